#!/usr/bin/env bash
# The runner on a day the package mirror does not answer (scripts/simulate-mirror-down.sh --hide all:
# apt's requests go to a proxy that never answers, and none of scripts/packages.txt's packages is
# installed, as on a fresh machine): install-deps.sh gives up within two minutes and says what it could
# not get; then every integration test either runs or says "skipped: package mirror unreachable (...)",
# none fails, and the runner counts the skips. Afterwards the machine is as it was. Run by run-tests.sh
# after the integration tests (as root; it needs the release build they use).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../assert.sh"
needs python3 ip socat

status_sum() { sha256sum </var/lib/dpkg/status | cut -d' ' -f1; }
status_before=$(status_sum)
netns_before=$(ip netns list 2>/dev/null | sort)
results=$(mktemp -d /tmp/mirror-down-run.XXXXXX)
trap 'rm -rf "$results"' EXIT

started=$SECONDS
INTEGRATION_RESULTS="$results" bash "$root/scripts/simulate-mirror-down.sh" --hide all -- \
    bash "$root/integration/run.sh" >"$results/out" 2>&1
run_status=$?
elapsed=$((SECONDS - started))
out=$(cat "$results/out")
install_line=$(grep -m1 '^simulate-mirror-down: install-deps.sh took' <<<"$out")
install_seconds=$(sed -nE 's/.* took ([0-9]+) s .*/\1/p' <<<"$install_line")
echo "    $install_line; the whole run $elapsed s"
grep -E '^install-deps: ' <<<"$out" | sed 's/^/    /'

check "install-deps.sh gave up on the silent mirror within two minutes (${install_seconds:-?} s) and exited 0" \
    eval '[ -n "$install_seconds" ] && [ "$install_seconds" -le 120 ] && grep -q "(status 0)" <<<"$install_line"'
check "it said what it could not get, and why" \
    grep -qE '^install-deps: could not get .*socat.*: package mirror unreachable \(apt-get update: ' <<<"$out"
check "it said the tests that need them will skip" grep -q '^install-deps: the tests that need them will say "skipped' <<<"$out"

counts=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' <<<"$out")
read -r p f s < <(sed -E 's/integration: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/' <<<"$counts")
tests=$(ls "$root"/integration/test_*.sh | wc -l)
echo "    ${counts:-no closing line}"
check "the integration run ended with status 0 and no failure (status $run_status)" \
    eval '[ "$run_status" -eq 0 ] && [ "${f:-1}" -eq 0 ] && ! grep -q "^  FAIL" <<<"$out"'
skip_lines=$(grep -E '^ *skipped: ' <<<"$out")
# Only python3 (the proxy's) and what the base image has are left: all but test_dependencies.sh skip.
check "every test that needs a package said 'skipped: package mirror unreachable (...)' (${s:-0} of $tests)" \
    eval '[ "${s:-0}" -ge $((tests - 1)) ] && [ "$(grep -c . <<<"$skip_lines")" -eq "${s:-0}" ]'
others=$(grep -vE '^ *skipped: package mirror unreachable \([a-z0-9.+-]+: apt-get update: ' <<<"$skip_lines")
check "and no skip gave another reason" [ -z "$others" ]
[ -z "$others" ] || sed 's/^/    /' <<<"$others"
check "the test that had what it needed ran and passed (test_dependencies.sh)" \
    eval 'sed -n "/^== test_dependencies.sh/,/^== /p" <<<"$out" | grep -q "^  ok "'
check "the runner counted the skips and listed each with its test's name" \
    eval '[ "$(grep -c "^test_[a-z0-9_]*\.sh: package mirror unreachable" "$results/.last-skips")" -eq "${s:-0}" ]'
check "its results went where INTEGRATION_RESULTS said (not into integration/)" [ -s "$results/.last-counts" ]
check "dpkg's status file is as it was" [ "$(status_sum)" = "$status_before" ]
check "the hidden programs are back (socat, ip)" eval 'command -v socat >/dev/null && [ -x "$(command -v ip)" ] && ip -V >/dev/null'
check "no network namespace was left" [ "$(ip netns list 2>/dev/null | sort)" = "$netns_before" ]
finish
