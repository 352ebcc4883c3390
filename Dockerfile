# Hogsend engine image: one static binary, run as serve (default), worker or migrate up.
#   docker build --build-arg VERSION=v1.2.3 -t hogsend .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=unknown
RUN deploy/build.sh /out/hogsend "$VERSION"

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hogsend /hogsend
ENV NODE_ENV=production PORT=3002
EXPOSE 3002
USER nonroot:nonroot
ENTRYPOINT ["/hogsend"]
CMD ["serve"]
