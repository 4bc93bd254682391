#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/) and runs each for a fixed number of inputs.
#
#   scripts/fuzz.sh [--runs N] [HARNESS...]   every harness (or those named), N inputs each (default 10^4)
#   scripts/fuzz.sh --planted-bug             builds with a bounds check removed; the dhcp harness must find it
#   scripts/fuzz.sh --list                    the harnesses, and the parsers still waiting for one
#
# One line per harness: "  ok fuzz NAME: INPUTS inputs in SECONDS s" or "  FAIL ...", with the crashing
# input kept (and its path printed); the last line is "fuzz: P passed, F failed", and the exit status is
# non-zero if any failed. Without the sanitizer runtime the script prints "skipped: ..." and succeeds.
# Corpora grow in a temporary directory: the seeds under Fuzz/corpus are read, never written.
set -u
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

runs=10000
planted=false
list=false
harnesses=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --runs=*) runs=${1#--runs=}; shift ;;
        --planted-bug) planted=true; shift ;;
        --list) list=true; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) harnesses+=("$1"); shift ;;
    esac
done

work=$(mktemp -d /tmp/pasta-fuzz.XXXXXX)
keep_work=false
cleanup() { $keep_work || rm -rf "$work"; }
trap cleanup EXIT

# The runtime comes with the toolchain or it doesn't: a one-line harness tells.
probe_runtime() {
    printf '@_cdecl("LLVMFuzzerTestOneInput")\npublic func f(_ d: UnsafePointer<UInt8>?, _ n: Int) -> CInt { 0 }\n' \
        > "$work/probe.swift"
    swiftc -sanitize=fuzzer,address -parse-as-library "$work/probe.swift" -o "$work/probe" >/dev/null 2>&1
}
if ! command -v swiftc >/dev/null || ! probe_runtime; then
    echo "skipped: swiftc -sanitize=fuzzer,address does not link here (no libFuzzer/ASan runtime)"
    echo "fuzz: 0 passed, 0 failed"
    exit 0
fi

# Debug build on purpose: @testable import reaches the internal parsers, and unsafe buffer subscripts keep
# their bounds checks, so an index error inside a larger buffer traps even where ASan sees valid memory.
# Only the harness module depends on PASTA_FUZZ_PLANTED_BUG: switching rebuilds that module alone.
build() {
    local -a environment=(PASTA_FUZZ=1)
    $planted && environment+=(PASTA_FUZZ_PLANTED_BUG=1)
    env "${environment[@]}" nice -n 19 swift build --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
        --product pasta-fuzz > "$work/build.log" 2>&1
}
started=$(date +%s)
if ! build; then
    grep -v "Cannot export local symbol" "$work/build.log" | tail -n 20
    echo "  FAIL fuzz build"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
binary=.build-fuzz/debug/pasta-fuzz
echo "fuzz: harnesses built in $(( $(date +%s) - started )) s"
if $list; then "$binary" --list; exit 0; fi

# Each harness runs in a network namespace of its own: none of them sends anything, and if one ever
# tried, there would be no interface to send on. Root gets one directly, others through a user namespace.
isolate=()
if unshare -n true 2>/dev/null; then
    isolate=(unshare -n)
elif unshare -rn true 2>/dev/null; then
    isolate=(unshare -rn)
fi

# The Swift runtime's backtracer would wait on a crashing harness (and hold its output open): libFuzzer
# reports the crash itself.
export SWIFT_BACKTRACE=enable=no

passed=0
failed=0

# run_harness NAME RUNS: one libFuzzer run; sets $inputs (on a crash: as of libFuzzer's last report),
# $seconds and $artifact, and returns libFuzzer's status.
run_harness() {
    local name=$1 count=$2 corpus="$work/corpus/$1" log="$work/$1.log"
    mkdir -p "$corpus" "$work/artifacts"
    local -a seeds=() dictionary=()
    [ -d "Fuzz/corpus/$name" ] && seeds=("Fuzz/corpus/$name")
    [ -f "Fuzz/dictionaries/$name.dict" ] && dictionary=("-dict=Fuzz/dictionaries/$name.dict")
    local begin status elapsed
    begin=$(date +%s%N)
    "${isolate[@]}" nice -n 19 "$binary" "$name" "$corpus" "${seeds[@]}" "${dictionary[@]}" -runs="$count" \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/$name-" -print_final_stats=1 > "$log" 2>&1
    status=$?
    elapsed=$(( ($(date +%s%N) - begin) / 100000000 ))
    seconds="$((elapsed / 10)).$((elapsed % 10))"
    inputs=$(grep -oE "^stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -n 1)
    [ -n "$inputs" ] || inputs=$(grep -oE "^#[0-9]+" "$log" | tail -n 1 | tr -d '#')
    [ -n "$inputs" ] || inputs=0
    artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
    return $status
}

report_failure() {
    local name=$1 what=$2
    echo "  FAIL fuzz $name: $what after $inputs inputs in $seconds s${artifact:+ (input: $artifact)}"
    grep -E "ERROR: |SUMMARY: |Fatal error|fatal error|^ *#[0-9]+ 0x.* in .*(PastaCore|PodmanNetplugin|pasta_fuzz)" \
        "$work/$name.log" | head -n 12 | sed 's/^/    /'
    keep_work=true
}

if $planted; then
    # The planted bug is found when the dhcp harness crashes at PlantedBug's unchecked read.
    if run_harness dhcp 1000000; then
        echo "  FAIL fuzz planted bug: not found in $inputs inputs ($seconds s)"
        failed=1
    elif grep -q "PlantedBug" "$work/dhcp.log"; then
        echo "  ok fuzz planted bug: found within $inputs inputs in $seconds s: $(grep -oE "AddressSanitizer: [a-z-]+" "$work/dhcp.log" | head -n 1)"
        passed=1
    else
        report_failure dhcp "crashed elsewhere than the planted bug"
        failed=1
    fi
    echo "fuzz: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

if [ ${#harnesses[@]} -eq 0 ]; then
    mapfile -t harnesses < <("$binary" --list | grep -v $'\tpending: ' | cut -f1)
fi
"$binary" --list | grep $'\tpending: ' | sed 's/\tpending: /: /; s/^/  pending fuzz /'
for name in "${harnesses[@]}"; do
    run_harness "$name" "$runs"
    status=$?
    if [ "$status" -eq 0 ]; then
        echo "  ok fuzz $name: $inputs inputs in $seconds s"
        passed=$((passed + 1))
    else
        if grep -q "ERROR: libFuzzer: timeout" "$work/$name.log"; then
            report_failure "$name" "an input ran longer than 10 s (hang)"
        elif grep -q "out-of-memory" "$work/$name.log"; then
            report_failure "$name" "memory over 2 GiB"
        elif [ -n "$artifact" ]; then
            report_failure "$name" "crash"
        else
            report_failure "$name" "exit status $status"
            tail -n 5 "$work/$name.log" | sed 's/^/    /'
        fi
        failed=$((failed + 1))
    fi
done
$keep_work && echo "fuzz: logs and crashing inputs kept in $work"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
