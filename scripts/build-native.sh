#!/usr/bin/env bash
# Builds the @nfq/nfqueue native binding (crates/nfq-napi) for Linux targets with napi's zig mode
# (`napi build --cross-compile`: cargo-zigbuild links with `zig cc`), so glibc targets need no newer
# glibc than 2.17 whatever the build machine has. Each target builds into target/napi-out/<platform>/;
# only a binary that passes scripts/check-binary.sh (and, for the build machine's own platform, loads
# in node) is copied in: the build machine's platform into packages/nfqueue/native/ (with the
# generated index.cjs and index.d.cts), any other into packages/nfqueue/npm/<platform>/.
# zig and cargo-zigbuild come from PyPI (scripts/build-requirements.txt), installed by scripts/setup.sh
# into target/tools/venv; the Rust standard library of each target must already be installed.
# Usage: bash scripts/build-native.sh [TARGET...]   (default: this machine's target)
#   TARGET: x86_64-unknown-linux-gnu, x86_64-unknown-linux-musl, aarch64-unknown-linux-gnu, aarch64-unknown-linux-musl
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
package="$root/packages/nfqueue"
glibc_floor="2.17"

if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
if [ -d "$root/target/tools/venv/bin" ]; then
  export PATH="$root/target/tools/venv/bin:$PATH"
fi
if ! command -v cargo-zigbuild >/dev/null 2>&1 || ! { command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; }; then
  echo "build-native: cargo-zigbuild and zig are needed: run 'bash scripts/setup.sh'," >&2
  echo "  or 'python3 -m venv target/tools/venv && target/tools/venv/bin/pip install -r scripts/build-requirements.txt'" >&2
  exit 1
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
if [ "$#" -eq 0 ]; then set -- "$host"; fi

# x86_64-unknown-linux-gnu -> linux-x64-gnu, as `napi build --platform` names the file.
platform_of() {
  local arch libc
  case "$1" in
    x86_64-*) arch=x64 ;;
    aarch64-*) arch=arm64 ;;
    *) echo "build-native: unsupported target $1" >&2; return 1 ;;
  esac
  case "$1" in
    *-linux-gnu) libc=gnu ;;
    *-linux-musl) libc=musl ;;
    *) echo "build-native: unsupported target $1" >&2; return 1 ;;
  esac
  echo "linux-$arch-$libc"
}

for target in "$@"; do
  platform="$(platform_of "$target")"
  sysroot="$(rustc --print sysroot)"
  if [ ! -d "$sysroot/lib/rustlib/$target/lib" ]; then
    echo "build-native: the Rust standard library for $target is not installed (rustup target add $target)" >&2
    exit 1
  fi
  zig_target="$target"
  case "$target" in *-gnu) zig_target="$target.$glibc_floor" ;; esac
  out="$root/target/napi-out/$platform"
  rm -rf "$out"
  mkdir -p "$out"

  echo "build-native: $zig_target -> $out"
  start=$SECONDS
  (cd "$package" && npx napi build --platform --release --cross-compile --target "$zig_target" \
    --manifest-path ../../crates/nfq-napi/Cargo.toml --output-dir "$out" --js index.cjs --dts index.d.cts)
  echo "build-native: $platform built in $((SECONDS - start))s"

  binary="$out/nfqueue.$platform.node"
  case "$target" in
    *-gnu) bash "$root/scripts/check-binary.sh" "$binary" "$glibc_floor" ;;
    *) bash "$root/scripts/check-binary.sh" "$binary" ;;
  esac

  if [ "$target" = "$host" ]; then
    node -e '
      const binding = require(process.argv[1]);
      if (typeof binding.NativeQueue !== "function") throw new Error("the binding exports no NativeQueue class");
    ' "$binary"
    dest="$package/native"
    mkdir -p "$dest"
    for file in "nfqueue.$platform.node" index.cjs index.d.cts; do
      cp "$out/$file" "$dest/.$file.new"
      mv -f "$dest/.$file.new" "$dest/$file"
    done
    echo "build-native: installed $dest/nfqueue.$platform.node"
  else
    dest="$package/npm/$platform"
    if [ ! -d "$dest" ]; then
      echo "build-native: $dest missing: run 'npx napi create-npm-dirs' in packages/nfqueue" >&2
      exit 1
    fi
    cp "$binary" "$dest/.nfqueue.$platform.node.new"
    mv -f "$dest/.nfqueue.$platform.node.new" "$dest/nfqueue.$platform.node"
    echo "build-native: installed $dest/nfqueue.$platform.node (not loaded: $platform is not this machine's platform)"
  fi
done
