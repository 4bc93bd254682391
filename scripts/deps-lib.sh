# The test dependencies: what scripts/packages.txt lists, where install-deps.sh keeps what it fetched, and
# its record of what it could not get and why. Sourced by install-deps.sh, the tests (needs.sh), the VM
# harness and the demo.
#
#   $PASTA_DEPS_DIR (default /var/cache/pasta-swift-tests)
#     debs/PACKAGE.deb    link to the cached .deb of each `fetch` package (the versioned file beside it)
#     unobtained          PACKAGE<TAB>REASON for each package the last install-deps.sh run could not get
#     installed-here      packages install-deps.sh installed on this machine (what a fresh one lacks)
#     install-deps.log    apt's output of the last run

DEPS_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPS_TABLE="$DEPS_SCRIPTS/packages.txt"
PASTA_DEPS_DIR="${PASTA_DEPS_DIR:-/var/cache/pasta-swift-tests}"
DEPS_DEBS="$PASTA_DEPS_DIR/debs"
DEPS_UNOBTAINED="$PASTA_DEPS_DIR/unobtained"
DEPS_MIRROR_DOWN="package mirror unreachable"

# deps_list install|fetch: the packages of that kind, one per line.
deps_list() { awk -v kind="$1" '{ sub(/#.*/, "") } $1 == kind { print $2 }' "$DEPS_TABLE"; }

# deps_package_of COMMAND: the package scripts/packages.txt lists it under (nothing if none).
deps_package_of() {
    awk -v cmd="$1" '{ sub(/#.*/, "") } $1 == "install" { for (i = 3; i <= NF; i++) if ($i == cmd) { print $2; exit } }' \
        "$DEPS_TABLE"
}

# deps_installed PACKAGE: dpkg has it installed.
deps_installed() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]; }

# deps_cached_deb PACKAGE: the path of its cached .deb (fails if there is none).
deps_cached_deb() {
    local link="$DEPS_DEBS/$1.deb"
    [ -s "$link" ] && readlink -f "$link"
}

# deps_cached_deb_stale PACKAGE: the package is installed in a version other than its cached .deb's.
deps_cached_deb_stale() {
    local installed
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null)
    [ "${installed%% *}" = ii ] && [ "${installed#ii  }" != "$(dpkg-deb -f "$(deps_cached_deb "$1")" Version 2>/dev/null)" ]
}

# deps_unobtained_reason PACKAGE: why the last install-deps.sh run could not get it (nothing if it did,
# or if install-deps.sh never ran here).
deps_unobtained_reason() {
    [ -f "$DEPS_UNOBTAINED" ] && awk -F'\t' -v p="$1" '$1 == p { print $2; exit }' "$DEPS_UNOBTAINED"
}

# deps_ran: install-deps.sh has run on this machine (it writes the record even when all went well).
deps_ran() { [ -f "$DEPS_UNOBTAINED" ]; }
