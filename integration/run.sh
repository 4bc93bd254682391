#!/usr/bin/env bash
# Runs every integration test (each builds and removes its own lab) and totals their checks.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root (network namespaces, /dev/net/tun)"; exit 1; }
passed=0
failed=0
scripts=0
for test in "$here"/test_*.sh; do
    scripts=$((scripts + 1))
    echo "== $(basename "$test")"
    out=$(LAB_ID="l$$-$scripts" timeout 300 bash "$test" 2>&1)
    status=$?
    echo "$out" | grep -E "^  (ok|FAIL|\()|^skipped"
    p=$(grep -c "^  ok " <<<"$out"); f=$(grep -c "^  FAIL " <<<"$out")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "  FAIL $(basename "$test") exited with status $status:"
        echo "$out" | tail -n 20 | sed 's/^/    /'
    fi
    passed=$((passed + p)); failed=$((failed + f))
done
left=$(ip netns list | grep -c "^l$$-" || true)
if [ "$left" -gt 0 ]; then
    echo "  FAIL $left lab namespaces were left behind"
    failed=$((failed + 1))
fi
echo "$passed $failed" > "$here/.last-counts"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
