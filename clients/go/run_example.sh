#!/usr/bin/env bash
# Build and run the Go example against a bitrag server: `make go-example` (or this script with
# TARGET=host:port to use a running server). Everything comes from Debian's packages (Go 1.19,
# grpc-go, protobuf-go, protoc); the Go code is generated from proto/bitrag/v1/bitrag.proto into a
# temporary GOPATH with no flags beyond the proto's own go_package option.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
PKGS="golang-go protobuf-compiler golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev golang-google-genproto-dev"
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq $PKGS >/dev/null
fi
WORK="$(mktemp -d /tmp/bitrag-go.XXXXXX)"
trap 'kill ${SERVER_PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
export GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$WORK/cache" GOFLAGS=
PKG="$WORK/gopath/src/github.com/bitrag/bitrag/clients/go"
mkdir -p "$PKG" "$WORK/bin"
# Debian's /usr/bin/protoc-gen-go is the 1.3 generator (no proto3 `optional`): build the 1.28 one.
go build -o "$WORK/bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$WORK/bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc
PATH="$WORK/bin:$PATH" protoc -I "$ROOT/proto" \
  --go_out="$WORK/gopath/src" --go-grpc_out="$WORK/gopath/src" bitrag/v1/bitrag.proto
cp -r "$ROOT/clients/go/example" "$PKG/"
(cd "$PKG" && go vet ./example && go build -o "$WORK/bin/bitrag-go-example" ./example)

if [ -z "${TARGET:-}" ]; then
  mkdir -p "$WORK/data"
  (cd "$WORK/data" && exec "$PY" -m bitrag.cli serve --address 127.0.0.1:0 --data-dir "$WORK/data" --redis-url "" \
     >"$WORK/serve.log" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 1 900); do
    # the target from the listening line, used once the server is ready (model loaded, SERVING)
    if grep -q 'bitrag ready: ' "$WORK/serve.log"; then
      TARGET="$(grep -o 'bitrag listening on [0-9.]*:[0-9]*' "$WORK/serve.log" | awk '{print $4}' || true)"
    fi
    [ -n "$TARGET" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log"; exit 1; }
    sleep 0.2
  done
fi
"$WORK/bin/bitrag-go-example" -target "$TARGET" -collection "go_example_$$"
