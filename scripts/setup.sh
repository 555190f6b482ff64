#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for this repository and builds it:
# system packages (only those missing), a check for the Rust toolchain, `npm ci`, `npm run build`.
# Run as root (or with sudo available) from anywhere: bash scripts/setup.sh
set -euo pipefail

cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: iptables and iproute2 for the kernel tests and the demo; libnetfilter-queue-dev
# and libmnl-dev for the C reference consumers; pkg-config to find them; tcpdump reads nf-queue's
# --pcap files in the CLI's tests; nftables lets `nf-queue doctor` probe the nft queue statement (its test expects a verdict).
needed=(iptables iproute2 nftables libnetfilter-queue-dev libmnl-dev pkg-config tcpdump)
missing=()
for package in "${needed[@]}"; do
  if ! dpkg -s "$package" >/dev/null 2>&1; then missing+=("$package"); fi
done
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
  echo "setup: node and npm not found. Install Node.js 20 or newer and rerun." >&2
  exit 1
fi

npm ci --no-audit --no-fund
npm run build
