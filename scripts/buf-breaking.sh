#!/usr/bin/env bash
# `buf breaking` for `make check`: within a package version (v1) the wire
# changes additively only (docs/PROTOCOL.md, "Versioning"). proto/ is compared
# with the last release tag reachable from HEAD; with no tag yet, with main's
# merge base (so a branch is held to what main already has); with neither (a
# tarball, a shallow clone of one branch) there is no history to compare, and
# the check says so and passes. buf reads the old proto/ from git itself
# (`.git#ref=`), which also works in a worktree and a shallow clone.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  echo "buf breaking: skipped, $1"
  exit 0
}

command -v git >/dev/null || skip "git is not installed"
git rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout: no history to compare"

if tag=$(git describe --tags --abbrev=0 2>/dev/null); then
  ref=$tag
  against="the last release tag $tag"
elif base=$(git merge-base HEAD origin/main 2>/dev/null || git merge-base HEAD main 2>/dev/null); then
  ref=$base
  against="main's merge base ${base:0:12}"
  if [ "$base" = "$(git rev-parse HEAD)" ]; then against+=" (HEAD itself: only uncommitted changes are compared)"; fi
else
  skip "no release tag and neither origin/main nor main in this clone: no history to compare"
fi

echo "buf breaking against $against"
npx buf breaking --against ".git#ref=$ref"
