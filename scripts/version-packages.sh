#!/usr/bin/env bash
# The release's version step (changesets/action `version`): turns the pending changesets into
# version bumps and CHANGELOG entries (@nfq/nfqueue and its platform packages move together, the
# `fixed` group of .changeset/config.json, and @nfq/nfqueue's optionalDependencies follow), then
# brings package-lock.json in step.
set -euo pipefail
cd "$(dirname "$0")/.."
npx changeset version
npm install --package-lock-only --ignore-scripts --no-audit --no-fund
