#!/bin/sh
# The engine's release build: a static binary with its version stamped into hogsend.Version.
# The Dockerfile's build stage and .ci/run both run this, so the flags live in one place.
#   deploy/build.sh OUTPUT [VERSION]   (VERSION defaults to `git describe`)
set -eu
out=${1:?usage: deploy/build.sh OUTPUT [VERSION]}
version=${2:-$(git describe --tags --always --dirty 2>/dev/null || echo unknown)}
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/hogsend/hogsend.Version=$version" -o "$out" ./cmd/hogsend
