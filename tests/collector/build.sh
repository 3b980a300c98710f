#!/usr/bin/env bash
# Builds otelcol-fivelens, the small OpenTelemetry Collector the deploy tests run, from the
# Collector's Go modules pinned in go.mod / go.sum (every module at one release, 0.161.0, the
# newest at which all of them resolve). The Go toolchain and the modules come from the Go module
# proxy; the build caches are the go command's own (GOMODCACHE, GOCACHE), and a binary already
# built from the same sources is kept: the second run costs nothing.
#
#   tests/collector/build.sh            prints the binary's path
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version="$(sed -n 's/^const version = "\(.*\)"/\1/p' "$here/version.go")"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/otelcol-fivelens/$version"
binary="$out/otelcol-fivelens"
# The sources' digest: a change to go.mod, go.sum or the code rebuilds.
digest="$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -c1-16)"
if [ -x "$binary" ] && [ "$(cat "$out/sources.sha256" 2>/dev/null)" = "$digest" ]; then
  echo "$binary"
  exit 0
fi
mkdir -p "$out"
cd "$here"
started=$SECONDS
# -mod=readonly: go.sum is the pin; nothing is resolved anew. GOTOOLCHAIN=local: the machine's Go
# (go.mod asks for no newer one). GOFLAGS replaces the environment's (no -mod=mod; no VCS stamp).
GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0 \
  go build -trimpath -ldflags="-s -w" -o "$binary.tmp" .
mv "$binary.tmp" "$binary"
echo "$digest" > "$out/sources.sha256"
echo "built $binary in $((SECONDS - started)) s" >&2
echo "$binary"
