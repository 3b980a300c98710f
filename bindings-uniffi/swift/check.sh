#!/usr/bin/env bash
# Checks the generated Swift package without a Swift toolchain (none on this machine): every
# file is there, Package.swift names the modules the sources import, and every FFI function the
# Swift code calls is declared in the header and exported by the library it was generated from.
set -euo pipefail
pkg=$1 lib=$2
for f in Package.swift Sources/Fivelens/Fivelens.swift Sources/FivelensFFI/FivelensFFI.h Sources/FivelensFFI/module.modulemap; do
  [ -s "$pkg/$f" ] || { echo "swift check: $f is missing or empty" >&2; exit 1; }
done
grep -q '^import FivelensFFI$' "$pkg/Sources/Fivelens/Fivelens.swift" || { echo "swift check: the sources do not import FivelensFFI" >&2; exit 1; }
grep -q 'name: "FivelensFFI"' "$pkg/Package.swift" || { echo "swift check: Package.swift lacks the FivelensFFI target" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
grep -o '\b\(uniffi\|ffi\)_fivelens_uniffi_[a-z0-9_]*' "$pkg/Sources/Fivelens/Fivelens.swift" | sort -u >"$tmp/called"
grep -o '\b\(uniffi\|ffi\)_fivelens_uniffi_[a-z0-9_]*' "$pkg/Sources/FivelensFFI/FivelensFFI.h" | sort -u >"$tmp/declared"
nm -D --defined-only "$lib" | awk '{print $3}' | grep '^\(uniffi\|ffi\)_fivelens_uniffi_' | sort -u >"$tmp/exported"
[ -s "$tmp/called" ] || { echo "swift check: the Swift sources call no FFI function" >&2; exit 1; }
missing=$(comm -23 "$tmp/called" "$tmp/declared")
[ -z "$missing" ] || { echo "swift check: called but not declared in the header: $missing" >&2; exit 1; }
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
[ -z "$missing" ] || { echo "swift check: declared but not exported by $lib: $missing" >&2; exit 1; }
echo "swift package: $pkg ($(wc -l <"$tmp/called") FFI functions, all declared and exported)"
