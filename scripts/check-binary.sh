#!/usr/bin/env bash
# Checks that a built .node binding loads on old Linux distributions: fails when the highest GLIBC_
# symbol version it needs (objdump -T) is above the floor (default 2.17: RHEL/CentOS 7 and newer,
# Ubuntu 14.04+, Debian 8+), or when it still carries its symbol table (a release binary is stripped).
# Prints the highest version found. A musl binary has no GLIBC_ versions and passes the glibc check.
# Usage: bash scripts/check-binary.sh FILE.node [MAX_GLIBC]
set -euo pipefail

file="${1:?usage: check-binary.sh FILE.node [MAX_GLIBC]}"
max="${2:-2.17}"

if [ ! -f "$file" ]; then
  echo "check-binary: $file does not exist" >&2
  exit 1
fi
if ! command -v objdump >/dev/null 2>&1 || ! command -v readelf >/dev/null 2>&1; then
  echo "check-binary: objdump or readelf not found (apt-get install binutils)" >&2
  exit 1
fi

dynsyms="$(objdump -T "$file")"
highest="$(grep -o 'GLIBC_[0-9][0-9.]*' <<<"$dynsyms" | sed 's/^GLIBC_//' | sort -uV | tail -n 1 || true)"

status=0
if [ -z "$highest" ]; then
  echo "check-binary: $file: no GLIBC_ symbol versions (not linked against glibc)"
else
  echo "check-binary: $file: highest glibc symbol version GLIBC_$highest (floor GLIBC_$max)"
  if [ "$(printf '%s\n%s\n' "$highest" "$max" | sort -V | tail -n 1)" != "$max" ]; then
    echo "check-binary: $file needs glibc $highest, above $max; these symbols raise it:" >&2
    grep -E "GLIBC_[0-9.]+" <<<"$dynsyms" | awk -v max="$max" '{
      match($0, /GLIBC_[0-9.]+/); v = substr($0, RSTART + 6, RLENGTH - 6);
      split(v, a, "."); split(max, b, ".");
      if (a[1] + 0 > b[1] + 0 || (a[1] + 0 == b[1] + 0 && a[2] + 0 > b[2] + 0)) print "  " $NF " (GLIBC_" v ")"
    }' | sort -u >&2
    status=1
  fi
fi

if readelf -S --wide "$file" | grep -qE '[[:space:]]\.(symtab|debug_[a-z_]+)[[:space:]]'; then
  echo "check-binary: $file is not stripped (.symtab or .debug_* present): build with the release profile" >&2
  status=1
fi

exit "$status"
