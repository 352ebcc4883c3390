// Package workertest runs a real Temporal server in-process for tests (temporaltest), one per
// test binary, with a fresh task queue per test.
package workertest

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"
)

var (
	serverOnce sync.Once
	server     *temporaltest.TestServer
)

// Server returns the package-wide in-process Temporal server, starting it on first use.
// It lives until the test binary exits.
func Server(t testing.TB) *temporaltest.TestServer {
	t.Helper()
	serverOnce.Do(func() {
		server = temporaltest.NewServer()
	})
	return server
}

// Client returns a client of the shared server, closed when the test ends.
func Client(t testing.TB) client.Client {
	t.Helper()
	c := Server(t).NewClientWithOptions(client.Options{})
	t.Cleanup(c.Close)
	return c
}

// TaskQueue returns a task queue name unique to one test.
func TaskQueue(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "hogsend-test-" + hex.EncodeToString(b)
}
