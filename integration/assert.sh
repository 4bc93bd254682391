# Assertions for integration tests: each check prints ok/FAIL and counts; finish exits non-zero on failure.
source "$(dirname "${BASH_SOURCE[0]}")/needs.sh"
CHECKS_FAILED=0
CHECKS_PASSED=0
PASTA="${PASTA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build/debug/pasta}"

pass() { CHECKS_PASSED=$((CHECKS_PASSED + 1)); echo "  ok   $*"; }
fail() { CHECKS_FAILED=$((CHECKS_FAILED + 1)); echo "  FAIL $*"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local what="$1"; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# skip_check REASON: a check this machine can't make (a kernel without the feature): said, and counted
# by the runner as skipped.
skip_check() { echo "  skipped: $*"; }

finish() {
    echo "  ($CHECKS_PASSED checks passed, $CHECKS_FAILED failed)"
    [ "$CHECKS_FAILED" -eq 0 ]
}

# json_has JSON FILTER: the jq filter selects something in JSON.
json_has() { jq -e "$2" <<<"$1" >/dev/null 2>&1; }

# Milliseconds since the epoch, for timing checks.
now_ms() { date +%s%3N; }
# kernel_at_least MAJOR MINOR: whether the running kernel is that version or later.
kernel_at_least() {
    local major minor
    IFS=. read -r major minor _ <<<"$(uname -r)"
    minor=${minor%%[^0-9]*}
    [ "$major" -gt "$1" ] || { [ "$major" -eq "$1" ] && [ "${minor:-0}" -ge "$2" ]; }
}
