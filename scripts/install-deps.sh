#!/usr/bin/env bash
# Installs what the build, the demo, the benchmark and the tests need on Debian 12 (run as root): every
# `install` package of scripts/packages.txt in one apt-get run, and the .deb files of its `fetch` packages
# (the VM guest's kernel and busybox-static; passt's, of the version installed) into $PASTA_DEPS_DIR/debs,
# where they stay: a second run needs no mirror (unless a fetched package was since installed in another
# version). Bounded: `apt-get update` gets 100 s (a silent mirror is given up within two minutes), all
# network steps together 10 minutes, each request 30 s and three retries; the install itself (dpkg, from
# the downloaded files) is not stopped half-way. What it could not get is printed and recorded with the
# reason of the step that lost it (scripts/deps-lib.sh): a test that needs a package the mirror did not
# deliver (no answer, or errors instead of files) says "skipped: package mirror unreachable (...)"; a
# package missing for any other reason makes its tests fail.
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
for p in "${fetches[@]}"; do deps_cached_deb "$p" >/dev/null && ! deps_cached_deb_stale "$p" || unfetched+=("$p"); done

declare -A why=()   # package -> why it could not be had
update_trouble=""   # a line of apt-get update's that shows some index could not be fetched
# step_reason STATUS WHAT: why the step WHAT failed, from its status and output (in STEP): the mirror
# ("package mirror unreachable (...)"), or anything else.
step_reason() {
    local line
    if [ "$1" -eq 124 ]; then
        echo "$DEPS_MIRROR_DOWN ($2: no answer within its time limit)"
    elif line=$(apt_unreachable_line "$STEP") && [ -n "$line" ]; then
        echo "$DEPS_MIRROR_DOWN ($2: $line)"
    elif [ -n "$update_trouble" ] && grep -qE "Unable to locate package|has no installation candidate" "$STEP"; then
        # apt knows nothing of the package because the index it is in could not be fetched.
        echo "$DEPS_MIRROR_DOWN ($2: apt-get update: $update_trouble)"
    else
        echo "$2 failed: $(grep -m1 -E '^E: ' "$STEP" | sed 's/^E: //')"
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
# lost REASON PACKAGE...: those packages could not be had, for that reason.
lost() { local reason="$1" p; shift; for p in "$@"; do why[$p]="$reason"; done; }

if [ ${#missing[@]} -gt 0 ] || [ ${#unfetched[@]} -gt 0 ]; then
    say "to get: ${missing[*]}${unfetched[*]:+ (and to fetch: ${unfetched[*]})}"
    say "apt-get update (up to $UPDATE_SECONDS s)"
    run_step "$UPDATE_SECONDS" apt-get update
    status=$?
    update_trouble=$(apt_unreachable_line "$STEP")
    # update says "W: Failed to fetch" and exits 0 when it reached no mirror; one that answered says Hit/Get.
    if [ $status -ne 0 ] || ! grep -qE '^(Hit|Get):' "$STEP"; then
        [ $status -eq 0 ] && status=100
        lost "$(step_reason $status "apt-get update")" "${missing[@]}" "${unfetched[@]}"
        missing=(); unfetched=()
    fi
fi

if [ ${#missing[@]} -gt 0 ]; then
    say "downloading ${#missing[@]} packages and what they depend on (up to $(left) s)"
    if ! run_step "$(left)" apt-get install -y --no-install-recommends --download-only "${missing[@]}"; then
        lost "$(step_reason $? "downloading packages")" "${missing[@]}"
    else
        say "installing them"
        # Everything is downloaded: no network from here on, and no deadline that could stop dpkg half-way.
        if ! apt-get install -y -q --no-install-recommends --no-download -o DPkg::Lock::Timeout=120 \
                "${missing[@]}" >"$STEP" 2>&1 </dev/null; then
            lost "apt-get install failed: $(grep -m1 -E '^E: ' "$STEP" | sed 's/^E: //')" "${missing[@]}"
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
    local package="$1" target="$1" deb status installed
    # An installed package's .deb is of the version installed (the one to put back).
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$package" 2>/dev/null)
    [ "${installed%% *}" = ii ] && target="$package=${installed#ii  }"
    if [[ "$package" == linux-image-* ]]; then
        target=$(apt-cache depends "$package" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
        [ -n "$target" ] || { lost "apt knows no kernel package $package depends on" "$package"; return 1; }
    fi
    (cd "$DEPS_DEBS" && run_step "$(left)" apt-get download -o APT::Sandbox::User=root "$target")
    status=$?
    [ $status -eq 0 ] || { lost "$(step_reason $status "downloading $target")" "$package"; return 1; }
    deb=$(ls -t "$DEPS_DEBS/${target%%=*}_"*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || { lost "downloading $target left no .deb in $DEPS_DEBS" "$package"; return 1; }
    ln -sfn "$(basename "$deb")" "$DEPS_DEBS/$package.deb"
}
for p in "${unfetched[@]}"; do
    say "fetching $p into $DEPS_DEBS (up to $(left) s)"
    fetch_deb "$p"
done
# Only the versions the links point at are kept.
for f in "$DEPS_DEBS"/*_*.deb; do
    [ -e "$f" ] || continue
    kept=no
    for p in "${fetches[@]}"; do [ "$(readlink "$DEPS_DEBS/$p.deb")" = "$(basename "$f")" ] && kept=yes; done
    [ $kept = yes ] || rm -f "$f"
done

# The record the tests read: each package still missing, and why.
record=$(mktemp "$PASTA_DEPS_DIR/unobtained.XXXXXX")
unobtained=()
for p in "${wanted[@]}"; do deps_installed "$p" || unobtained+=("$p"); done
# (A package both installed and fetched, passt, is recorded once.)
for p in "${fetches[@]}"; do
    deps_cached_deb "$p" >/dev/null || [[ " ${unobtained[*]} " == *" $p "* ]] || unobtained+=("$p")
done
for p in "${unobtained[@]}"; do
    printf '%s\t%s\n' "$p" "${why[$p]:-apt-get did not install it (see $LOG)}" >>"$record"
done
mv "$record" "$DEPS_UNOBTAINED"

elapsed=$((SECONDS - started))
if [ ${#unobtained[@]} -eq 0 ]; then
    say "all ${#wanted[@]} packages installed and ${#fetches[@]} .deb files cached ($elapsed s)"
    exit 0
fi
# One line per reason, with the packages it cost.
cut -f2 "$DEPS_UNOBTAINED" | sort -u | while read -r reason; do
    say "could not get $(awk -F'\t' -v r="$reason" '$2 == r { printf "%s ", $1 }' "$DEPS_UNOBTAINED"| sed 's/ $//'): $reason"
done
say "($elapsed s; apt's output: $LOG)"
if ! cut -f2 "$DEPS_UNOBTAINED" | grep -qv "^$DEPS_MIRROR_DOWN "; then
    say "the tests that need them will say \"skipped: $DEPS_MIRROR_DOWN (...)\""
    exit 0
fi
say "the tests that need them will fail"
exit 1
