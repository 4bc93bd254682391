#!/usr/bin/env bash
# Records the commit being built in Sources/CLinux/build_commit.h (not tracked), which `--version` reports:
# the short hash, with "-dirty" when tracked files differ from it; "unknown commit" outside a git checkout.
# Rewritten only when that changes, so the build recompiles one C file, not everything. run-tests.sh,
# scripts/install.sh, scripts/package-deb.sh and bench/run.sh call it before they build; a plain
# `swift build` reports whatever was stamped last (or "unknown commit" if nothing was).
set -euo pipefail
cd "$(dirname "$0")/.."
commit="unknown commit"
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
    commit=$(git rev-parse --short=7 HEAD)
    git diff --quiet HEAD -- 2>/dev/null || commit="$commit-dirty"
fi
header=Sources/CLinux/build_commit.h
line="#define PASTA_BUILD_COMMIT \"$commit\""
if [ "$(cat "$header" 2>/dev/null)" != "$line" ]; then
    echo "$line" >"$header"
    touch Sources/CLinux/build_info.c
fi
echo "$commit"
