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
[ "$checker_status" -eq 0 ] || fail "scripts/check_commands.py exited with $checker_status"
finish
