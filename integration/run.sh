#!/usr/bin/env bash
# Runs every integration test (each builds and removes its own lab) and totals their checks and skips.
# A test that can't run (a package the mirror did not deliver, a kernel without a feature) says
# "skipped: REASON": counted, and listed with the test's name. The counts ("PASSED FAILED SKIPPED") and the
# list go to .last-counts and .last-skips in $INTEGRATION_RESULTS (default: this directory).
set -u
here=$(cd "$(dirname "$0")" && pwd)
results="${INTEGRATION_RESULTS:-$here}"
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root (network namespaces, /dev/net/tun)"; exit 1; }
passed=0
failed=0
skipped=0
scripts=0
: >"$results/.last-skips"
for test in "$here"/test_*.sh; do
    scripts=$((scripts + 1))
    name=$(basename "$test")
    echo "== $name"
    out=$(LAB_ID="l$$-$scripts" timeout 300 bash "$test" 2>&1)
    status=$?
    echo "$out" | grep -E "^  (ok|FAIL|\()|^ *skipped: "
    p=$(grep -c "^  ok " <<<"$out"); f=$(grep -c "^  FAIL " <<<"$out")
    s=$(grep -cE "^ *skipped: " <<<"$out")
    grep -E "^ *skipped: " <<<"$out" | sed -E "s/^ *skipped: /$name: /" >>"$results/.last-skips"
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "  FAIL $name exited with status $status:"
        echo "$out" | tail -n 20 | sed 's/^/    /'
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
left=$(ip netns list 2>/dev/null | grep -c "^l$$-" || true)
if [ "$left" -gt 0 ]; then
    echo "  FAIL $left lab namespaces were left behind"
    failed=$((failed + 1))
fi
echo "$passed $failed $skipped" > "$results/.last-counts"
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
