#!/usr/bin/env bash
# Builds, runs the unit tests, the fuzz harnesses, the integration tests (root: they create network
# namespaces), then the runner's own test (the suite on a simulated day the package mirror is down).
# The closing line is `tests: N passed, M failed, K skipped`, followed by each skip's test and reason.
set -u
cd "$(dirname "$0")"
export PATH="$PATH:/opt/swift/usr/bin"

# Integration tests run the release build: the throughput and loss checks measure the real datapath. It
# carries the Swift runtime (--static-swift-stdlib), as install.sh and package-deb.sh build it: the tests
# run what is installed, and test_package_deb.sh's build finds it done (the flag changes every object
# file: a second build with the other setting would take as long as this one).
echo "building commit $(bash scripts/stamp-commit.sh)"
swift build -c release --static-swift-stdlib 2>&1 | tail -n 3
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "tests: 0 passed, 1 failed (build)"; exit 1; }
export PASTA="$PWD/.build/release/pasta"
ln -sf pasta .build/release/passt  # the same binary runs as passt under that name
ln -sf pasta .build/release/pesto  # and as the pesto client
ln -sf pasta .build/release/slirp4netns  # and as a slirp4netns drop-in

unit_log=$(mktemp)
swift test 2>&1 | tee "$unit_log" | grep -E "error:|failed|Executed .* tests" | tail -n 20
unit_status=${PIPESTATUS[0]}
summary=$(grep -E "Executed [0-9]+ tests, with [0-9]+ failures" "$unit_log" | tail -n 1)
# The TCP simulation must catch the bug planted in debug builds (TCPRegressionTests.testPlantedBugIsCaught).
planted=$(grep -m1 "^planted bug caught: " "$unit_log")
rm -f "$unit_log"
unit_total=$(sed -E 's/.*Executed ([0-9]+) tests.*/\1/' <<<"$summary")
unit_failed=$(sed -E 's/.*with ([0-9]+) failures.*/\1/' <<<"$summary")
[ -n "$unit_total" ] || { unit_total=0; unit_failed=1; }
[ "$unit_status" -eq 0 ] || [ "$unit_failed" -gt 0 ] || unit_failed=1

# The TCP simulation's full sweep (Tests/PastaCoreTests/TCPSimulation): 10,000 seeds per scenario, in a
# release build of the tests (a debug one is about 20 times slower: `swift test` above ran 200 seeds per
# scenario, the named regressions and the planted bug's check).
sim_log=$(mktemp)
PASTA_SIM_SEEDS=10000 swift test -c release -Xswiftc -enable-testing --scratch-path .build-sim \
    --filter TCPSimulationTests 2>&1 | tee "$sim_log" | grep -E "^simulation |error:|Compiling.*error"
sim_status=${PIPESTATUS[0]}
summary=$(grep -E "Executed [0-9]+ tests, with [0-9]+ failures" "$sim_log" | tail -n 1)
rm -f "$sim_log"
sim_total=$(sed -E 's/.*Executed ([0-9]+) tests.*/\1/' <<<"$summary")
sim_failed=$(sed -E 's/.*with ([0-9]+) failures.*/\1/' <<<"$summary")
[ -n "$sim_total" ] || { sim_total=0; sim_failed=1; }
[ "$sim_status" -eq 0 ] || [ "$sim_failed" -gt 0 ] || sim_failed=1
if [ -n "$planted" ]; then
    echo "  ok   the TCP simulation caught the planted bug (${planted#planted bug caught: })"
    sim_total=$((sim_total + 1))
else
    echo "  FAIL the TCP simulation did not catch the planted bug (a FIN that comes with data forgotten)"
    sim_total=$((sim_total + 1)); sim_failed=$((sim_failed + 1))
fi

# Fuzz harnesses (Fuzz/): 10^4 inputs each, then the planted bug they must find; about two minutes.
fuzz_passed=0
fuzz_failed=0
skips=()  # "WHERE: REASON"
for mode in --runs=10000 --planted-bug; do
    fuzz_out=$(bash scripts/fuzz.sh "$mode" 2>&1)
    fuzz_status=$?
    grep -E "^  (ok|FAIL|pending)|^    |^skipped" <<<"$fuzz_out"
    read -r p f < <(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' <<<"$fuzz_out" | tail -n 1)
    p=${p:-0}; f=${f:-0}
    [ "$fuzz_status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    fuzz_passed=$((fuzz_passed + p)); fuzz_failed=$((fuzz_failed + f))
    while read -r line; do skips+=("fuzz.sh $mode: ${line#skipped: }"); done < <(grep "^skipped: " <<<"$fuzz_out")
done

bash integration/run.sh
integration_status=$?
read -r int_passed int_failed int_skipped < integration/.last-counts
mapfile -t -O "${#skips[@]}" skips < integration/.last-skips
rm -f integration/.last-counts integration/.last-skips

# The runner's own test runs the suite inside a simulation, which must not start another one.
runner_passed=0
runner_failed=0
if [ -z "${PASTA_SIMULATED_MIRROR_DOWN:-}" ]; then
    echo "== runner: the suite on a day the package mirror does not answer"
    runner_out=$(bash integration/runner/test_mirror_down.sh 2>&1)
    runner_status=$?
    grep -E "^  (ok|FAIL)|^    |^ *skipped: " <<<"$runner_out"
    while read -r line; do skips+=("runner/test_mirror_down.sh: ${line#*skipped: }"); done < <(grep -E "^ *skipped: " <<<"$runner_out")
    runner_passed=$(grep -c "^  ok " <<<"$runner_out")
    runner_failed=$(grep -c "^  FAIL " <<<"$runner_out")
    if [ "$runner_status" -ne 0 ] && [ "$runner_failed" -eq 0 ]; then
        runner_failed=1
        echo "  FAIL test_mirror_down.sh exited with status $runner_status:"
        tail -n 20 <<<"$runner_out" | sed 's/^/    /'
    fi
fi

passed=$(( unit_total - unit_failed + sim_total - sim_failed + fuzz_passed + int_passed + runner_passed ))
failed=$(( unit_failed + sim_failed + fuzz_failed + int_failed + runner_failed ))
echo "unit tests: $((unit_total - unit_failed)) passed, $unit_failed failed"
echo "TCP simulation sweeps (10,000 seeds each) and planted bug: $((sim_total - sim_failed)) passed, $sim_failed failed"
echo "fuzz checks: $fuzz_passed passed, $fuzz_failed failed"
echo "integration checks: $int_passed passed, $int_failed failed, ${int_skipped:-0} skipped"
echo "runner checks: $runner_passed passed, $runner_failed failed"
echo "tests: $passed passed, $failed failed, ${#skips[@]} skipped"
for skip in "${skips[@]}"; do echo "  skipped: $skip"; done
[ "$failed" -eq 0 ] && [ "$integration_status" -eq 0 ]
