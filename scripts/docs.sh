#!/usr/bin/env bash
# npm run docs: the API reference of every package and of the crate, from their doc comments.
#   docs/api/typescript/  TypeDoc for @nfq/netlink, @nfq/nfqueue and @nfq/cli (open index.html)
#   docs/api/rust/        rustdoc for nfq-core (open nfq_core/index.html)
# Warnings fail it (a broken link, an undocumented public item of the crate).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
npx typedoc
# Every feature: the reference shows the optional modules (tokio, wire, testing) too.
RUSTDOCFLAGS="-D warnings" cargo doc -p nfq-core --all-features --no-deps --target-dir target/docs
rm -rf docs/api/rust
mkdir -p docs/api
cp -r target/docs/doc docs/api/rust
echo "docs: docs/api/typescript/index.html, docs/api/rust/nfq_core/index.html"
