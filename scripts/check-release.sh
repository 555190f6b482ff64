#!/usr/bin/env bash
# What CI checks of the shipping setup, after scripts/setup.sh has built everything: the native
# binding on this machine needs no glibc above 2.17 and is stripped; every package ships what a user
# needs (scripts/check-packages.mjs); the workflows in .github/workflows pass actionlint, which
# also runs shellcheck on their steps, and so do the build and release scripts; the nfq-core crate
# packages and builds from its .crate (`cargo package`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

libc=gnu
# Read ldd's whole output first: `grep -q` quitting early would make ldd die of SIGPIPE, and with
# pipefail the pipeline would fail on glibc too.
ldd_version="$(ldd --version 2>&1 || true)"
if ! grep -i -e glibc -e 'gnu libc' >/dev/null <<<"$ldd_version"; then libc=musl; fi
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
bash scripts/check-binary.sh "packages/nfqueue/native/nfqueue.linux-$arch-$libc.node" 2.17

node scripts/check-packages.mjs

if [ ! -x target/tools/bin/actionlint ] || ! command -v shellcheck >/dev/null 2>&1; then
  echo "check-release: actionlint or shellcheck missing: run scripts/setup.sh" >&2
  exit 1
fi
target/tools/bin/actionlint
echo "check-release: .github/workflows pass actionlint"
shellcheck scripts/setup.sh scripts/build-native.sh scripts/build-cross.sh scripts/check-binary.sh \
  scripts/check-release.sh scripts/publish-packages.sh scripts/version-packages.sh
echo "check-release: the build and release scripts pass shellcheck"

cargo package -q -p nfq-core --allow-dirty --offline
echo "check-release: nfq-core packages and builds from its .crate"
