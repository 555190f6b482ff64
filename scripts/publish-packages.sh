#!/usr/bin/env bash
# The release's publish step (changesets/action `publish`), after the binaries of every target are
# built: moves them into their platform packages (`napi artifacts`, which fails when one is
# missing), adds those packages' `cpu`/`libc` (scripts/platform-packages.mjs: left out of the
# committed package.json files so that npm installs the workspaces on any machine), checks every
# package (scripts/platform-packages.mjs check, scripts/check-packages.mjs) and publishes with
# `changeset publish`: what is not on the registry yet, platform packages before @nfq/nfqueue.
# Usage: bash scripts/publish-packages.sh ARTIFACTS_DIR   (the downloaded bindings-<target>/ folders)
set -euo pipefail
artifacts="$(cd "${1:?usage: publish-packages.sh ARTIFACTS_DIR}" && pwd)"
cd "$(dirname "$0")/.."
(cd packages/nfqueue && npx napi artifacts --output-dir "$artifacts" --npm-dir npm)
node scripts/platform-packages.mjs manifest
node scripts/platform-packages.mjs check
node scripts/check-packages.mjs
npx changeset publish
