#!/usr/bin/env bash
# Installs what the build, the demo, the benchmark and the tests need on Debian 12 (run as root): every
# `install` package of scripts/packages.txt in one apt-get run, and the .deb files of its `fetch` packages
# (the VM guest's kernel and busybox-static) into $PASTA_DEPS_DIR/debs, where they stay: a second run needs
# no mirror. Bounded: `apt-get update` gets 100 s (a silent mirror is given up within two minutes), the
# whole run 10 minutes, each request 30 s and three retries. What it could not get is printed and
# recorded (scripts/deps-lib.sh): a test that needs a package the mirror did not deliver says
# "skipped: package mirror unreachable (...)"; a package missing for any other reason makes its tests fail.
#
# Exit status: 0 when everything is here or only the mirror was unreachable, 1 otherwise.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/deps-lib.sh"
source "$here/apt-bounded.sh"
export DEBIAN_FRONTEND=noninteractive
UPDATE_SECONDS="${PASTA_DEPS_UPDATE_SECONDS:-100}"
TOTAL_SECONDS="${PASTA_DEPS_TOTAL_SECONDS:-600}"
started=$SECONDS
left() { echo $(( TOTAL_SECONDS - (SECONDS - started) )); }
say() { echo "install-deps: $*"; }

[ "$(id -u)" -eq 0 ] || { say "run it as root: it installs Debian packages"; exit 1; }
command -v swift >/dev/null || [ -x /opt/swift/usr/bin/swift ] ||
    { say "Swift 6 is needed (expected at /opt/swift/usr/bin)"; exit 1; }
mkdir -p "$DEPS_DEBS" || exit 1
LOG="$PASTA_DEPS_DIR/install-deps.log"
: >"$LOG"
STEP=$(mktemp)
trap 'rm -f "$STEP"' EXIT

mapfile -t wanted < <(deps_list install)
mapfile -t fetches < <(deps_list fetch)
missing=()
for p in "${wanted[@]}"; do deps_installed "$p" || missing+=("$p"); done
unfetched=()
for p in "${fetches[@]}"; do deps_cached_deb "$p" >/dev/null || unfetched+=("$p"); done

mirror=""   # why the mirror counts as unreachable, once it does
other=""    # any other failure
# step_failed STATUS WHAT: sets mirror or other from the step's status and output.
step_failed() {
    local line
    if [ "$1" -eq 124 ]; then
        mirror="$2: no answer within its time limit"
    elif line=$(apt_unreachable_line "$STEP") && [ -n "$line" ]; then
        mirror="$2: $line"
    else
        other="$2 failed: $(grep -m1 -E '^E: ' "$STEP" | sed 's/^E: //')"
    fi
}
# run_step SECONDS COMMAND...: a bounded apt command; its output is in STEP, and appended to LOG.
run_step() {
    : >"$STEP"
    apt_bounded "$1" "$STEP" "${@:2}"
    local status=$?
    cat "$STEP" >>"$LOG"
    return $status
}

if [ ${#missing[@]} -gt 0 ] || [ ${#unfetched[@]} -gt 0 ]; then
    say "to get: ${missing[*]}${unfetched[*]:+ (and to fetch: ${unfetched[*]})}"
    say "apt-get update (up to $UPDATE_SECONDS s)"
    run_step "$UPDATE_SECONDS" apt-get update
    status=$?
    # update says "W: Failed to fetch" and exits 0 when it reached no mirror; one that answered says Hit/Get.
    if [ $status -ne 0 ] || ! grep -qE '^(Hit|Get):' "$STEP"; then
        [ $status -eq 0 ] && status=100
        step_failed $status "apt-get update"
    fi
fi

if [ ${#missing[@]} -gt 0 ] && [ -z "$mirror" ] && [ -z "$other" ]; then
    say "downloading ${#missing[@]} packages and what they depend on (up to $(left) s)"
    run_step "$(left)" apt-get install -y --no-install-recommends --download-only "${missing[@]}" ||
        step_failed $? "downloading packages"
    if [ -z "$mirror" ] && [ -z "$other" ]; then
        say "installing them"
        # Everything is downloaded: no network from here on, and no deadline that could stop dpkg half-way.
        if ! apt-get install -y -q --no-install-recommends --no-download -o DPkg::Lock::Timeout=120 \
                "${missing[@]}" >"$STEP" 2>&1 </dev/null; then
            other="apt-get install failed: $(grep -m1 -E '^E: ' "$STEP" | sed 's/^E: //')"
        fi
        cat "$STEP" >>"$LOG"
    fi
    for p in "${missing[@]}"; do
        deps_installed "$p" && echo "$p" >>"$PASTA_DEPS_DIR/installed-here"
    done
    [ -f "$PASTA_DEPS_DIR/installed-here" ] && sort -u -o "$PASTA_DEPS_DIR/installed-here" "$PASTA_DEPS_DIR/installed-here"
fi

# fetch_deb PACKAGE: downloads its .deb (for a linux-image-* metapackage, the versioned kernel package it
# depends on) into the cache and points DEPS_DEBS/PACKAGE.deb at it.
fetch_deb() {
    local package="$1" target="$1" deb
    if [[ "$package" == linux-image-* ]]; then
        target=$(apt-cache depends "$package" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
        [ -n "$target" ] || { other="$package: apt knows no kernel package it depends on"; return 1; }
    fi
    (cd "$DEPS_DEBS" && run_step "$(left)" apt-get download -o APT::Sandbox::User=root "$target") ||
        { step_failed $? "downloading $target"; return 1; }
    deb=$(ls -t "$DEPS_DEBS/${target}_"*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || { other="downloading $target left no .deb in $DEPS_DEBS"; return 1; }
    ln -sfn "$(basename "$deb")" "$DEPS_DEBS/$package.deb"
}
for p in "${unfetched[@]}"; do
    [ -z "$mirror" ] || break
    say "fetching $p into $DEPS_DEBS (up to $(left) s)"
    fetch_deb "$p"
done
# Only the versions the links point at are kept.
for f in "$DEPS_DEBS"/*_*.deb; do
    [ -e "$f" ] || continue
    kept=no
    for p in "${fetches[@]}"; do [ "$(deps_cached_deb "$p")" = "$f" ] && kept=yes; done
    [ $kept = yes ] || rm -f "$f"
done

# The record the tests read: each package still missing, and why.
record=$(mktemp "$PASTA_DEPS_DIR/unobtained.XXXXXX")
unobtained=()
for p in "${wanted[@]}"; do deps_installed "$p" || unobtained+=("$p"); done
for p in "${fetches[@]}"; do deps_cached_deb "$p" >/dev/null || unobtained+=("$p"); done
if [ -n "$mirror" ]; then
    reason="$DEPS_MIRROR_DOWN ($mirror)"
else
    reason="${other:-apt-get did not install it (see $LOG)}"
fi
for p in "${unobtained[@]}"; do printf '%s\t%s\n' "$p" "$reason" >>"$record"; done
mv "$record" "$DEPS_UNOBTAINED"

elapsed=$((SECONDS - started))
if [ ${#unobtained[@]} -eq 0 ]; then
    say "all ${#wanted[@]} packages installed and ${#fetches[@]} .deb files cached ($elapsed s)"
    exit 0
fi
say "could not get ${unobtained[*]}: $reason ($elapsed s; apt's output: $LOG)"
if [ -n "$mirror" ]; then
    say "the tests that need them will say \"skipped: $DEPS_MIRROR_DOWN (...)\""
    exit 0
fi
say "the tests that need them will fail"
exit 1
