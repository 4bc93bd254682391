#!/usr/bin/env bash
# Every command the scripts call (tests, their helpers, the demo, the benchmark, contrib) is in the base
# image or installed by scripts/install-deps.sh, scripts/packages.txt agrees with dpkg about which package
# ships each command, and each test names on its `needs` line every such command it calls
# (scripts/check_commands.py prints those three checks). Then the check itself is checked: a planted test
# that calls a command no package provides, and one of install-deps.sh's without naming it, is caught.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/assert.sh"
needs python3
CHECKER="$here/../scripts/check_commands.py"
WORK=$(mktemp -d /tmp/pasta-deps.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

python3 "$CHECKER"  # its ok/FAIL lines are this test's checks
checker_status=$?

cat >"$WORK/test_planted.sh" <<'PLANTED'
source "$here/assert.sh"
needs socat
frobnicate-the-widget --all
check "offloads" ip netns exec "$NS" ethtool -k eth0
socat - TCP:127.0.0.1:9
PLANTED
planted=$(python3 "$CHECKER" --extra-test "$WORK/test_planted.sh")
planted_status=$?
check "a planted test's problems make the check fail" [ "$planted_status" -ne 0 ]
check "... a command no package provides, with the line it is on" \
    grep -q "test_planted.sh:3: frobnicate-the-widget: not found" <<<"$planted"
check "... a listed command missing from its needs line (ethtool, through check and ip netns exec)" \
    grep -q "test_planted.sh:4: ethtool: called but not on the test's needs line (package ethtool)" <<<"$planted"
check "... and not what its needs line names (socat)" eval '! grep -q "test_planted.sh.*socat" <<<"$planted"'

# needs.sh's verdicts for a missing command (socat, made to look missing), by what install-deps.sh recorded.
verdict() {  # RECORD (nothing: install-deps never ran): prints the output and the exit status
    rm -rf "$WORK/deps"; mkdir "$WORK/deps"
    [ "$1" = never ] || printf '%s' "$1" >"$WORK/deps/unobtained"
    PASTA_DEPS_DIR="$WORK/deps" bash -c 'source "$1"; has_program() { [ "$1" != socat ]; }; needs jq socat; echo "went on"' _ \
        "$here/needs.sh" 2>&1
    echo "status $?"
}
out=$(verdict "$(printf 'socat\tpackage mirror unreachable (apt-get update: no answer within its time limit)\n')")
check "needs: the mirror was unreachable: 'skipped: package mirror unreachable (socat: ...)', status 0" \
    eval '[ "$out" = "$(printf "skipped: package mirror unreachable (socat: apt-get update: no answer within its time limit)\nstatus 0")" ]'
out=$(verdict "$(printf 'socat\tapt-get install failed: dpkg broke\n')")
check "needs: any other reason: FAIL with it, status 1" \
    eval 'grep -q "FAIL socat is missing: scripts/install-deps.sh could not install socat: apt-get install failed: dpkg broke" <<<"$out" && grep -qx "status 1" <<<"$out"'
out=$(verdict never)
check "needs: install-deps.sh never ran: FAIL, run it" \
    eval 'grep -q "FAIL socat is missing: run scripts/install-deps.sh" <<<"$out" && grep -qx "status 1" <<<"$out"'
out=$(verdict "")
check "needs: install-deps.sh said it got everything: FAIL" \
    eval 'grep -q "FAIL socat is missing, though scripts/install-deps.sh says it got socat" <<<"$out" && grep -qx "status 1" <<<"$out"'
[ "$checker_status" -eq 0 ] || fail "scripts/check_commands.py exited with $checker_status"
finish
