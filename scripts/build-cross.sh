#!/usr/bin/env bash
# Builds the native binding for every Linux target of @nfq/nfqueue other than this machine's own
# (x64 and arm64, glibc and musl) with scripts/build-native.sh, into packages/nfqueue/npm/<platform>/.
# A target whose Rust standard library is not installed (`rustup target add TARGET` adds it) is
# skipped with that reason; with --strict (the release workflow), a skipped or failed target fails the run.
# Usage: bash scripts/build-cross.sh [--strict] [TARGET...]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

strict=0
if [ "${1:-}" = "--strict" ]; then strict=1; shift; fi

host="$(rustc -vV | sed -n 's/^host: //p')"
if [ "$#" -eq 0 ]; then
  # The targets of packages/nfqueue/package.json's napi.targets.
  mapfile -t all < <(node -e '
    const pkg = require(process.argv[1]);
    for (const target of pkg.napi.targets) console.log(target);
  ' "$root/packages/nfqueue/package.json")
  set --
  for target in "${all[@]}"; do
    if [ "$target" != "$host" ]; then set -- "$@" "$target"; fi
  done
fi

sysroot="$(rustc --print sysroot)"
built=()
skipped=()
failed=()
for target in "$@"; do
  if [ ! -d "$sysroot/lib/rustlib/$target/lib" ]; then
    echo "build-cross: skip $target: its Rust standard library is not installed in $sysroot (rustup target add $target)"
    skipped+=("$target")
    continue
  fi
  if bash "$root/scripts/build-native.sh" "$target"; then
    built+=("$target")
  else
    echo "build-cross: $target failed" >&2
    failed+=("$target")
  fi
done

echo "build-cross: built ${#built[@]} (${built[*]:-none}), skipped ${#skipped[@]} (${skipped[*]:-none}), failed ${#failed[@]} (${failed[*]:-none})"
if [ "${#failed[@]}" -gt 0 ]; then exit 1; fi
if [ "$strict" -eq 1 ] && [ "${#skipped[@]}" -gt 0 ]; then exit 1; fi
