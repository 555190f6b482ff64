#!/usr/bin/env bash
# Runs both codecs' property tests for millions of cases (CI runs a few hundred per property).
#   bash scripts/fuzz.sh            # 2,000,000 cases per Rust property, FUZZ_RUNS for TypeScript
#   CASES=10000000 bash scripts/fuzz.sh
# A failing case is printed with its minimal input; proptest also keeps it in
# crates/nfq-core/proptest-regressions/ so the next run tries it first: turn it into a fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${CASES:-2000000}"
echo "== Rust (nfq-core): $cases cases per property"
time PROPTEST_CASES="$cases" cargo test --release -q -p nfq-core --test properties
echo "== TypeScript (@nfq/netlink)"
time FUZZ_RUNS="${FUZZ_RUNS:-$cases}" npm run fuzz -w @nfq/netlink
