# What a test needs from Debian, declared where it starts. Sourced by lab.sh and assert.sh.
#
#   needs COMMAND...       commands of scripts/packages.txt's `install` packages
#   needs_debs PACKAGE...  `fetch` packages: their .deb files in install-deps.sh's cache
#
# When something is missing because scripts/install-deps.sh could not reach the package mirror, the test
# ends here: "skipped: package mirror unreachable (...)", status 0. Missing for any other reason (install-deps
# never ran, or failed otherwise), it fails: install-deps.sh is meant to provide it.
# scripts/check_commands.py checks that each test names every such command it calls.
[ -n "${NEEDS_SH_LOADED:-}" ] && return 0
NEEDS_SH_LOADED=1
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/deps-lib.sh"

# needs_missing WHAT PACKAGE: the verdict for one missing thing (exits the test).
needs_missing() {
    local what="$1" package="$2" reason
    reason=$(deps_unobtained_reason "$package")
    case "$reason" in
    "$DEPS_MIRROR_DOWN ("*)
        echo "skipped: $DEPS_MIRROR_DOWN ($package: ${reason#"$DEPS_MIRROR_DOWN ("}"
        exit 0 ;;
    "")
        if deps_ran; then
            echo "  FAIL $what is missing, though scripts/install-deps.sh says it got $package"
        else
            echo "  FAIL $what is missing: run scripts/install-deps.sh (it installs $package)"
        fi ;;
    *)
        echo "  FAIL $what is missing: scripts/install-deps.sh could not install $package: $reason" ;;
    esac
    exit 1
}

# has_program COMMAND: a program of that name that can run is on PATH (`command -v` alone also finds one
# that can't, as a last resort).
has_program() {
    local path
    path=$(command -v "$1") && [ -f "$path" ] && [ -x "$path" ]
}

needs() {
    local command package
    for command in "$@"; do
        has_program "$command" && continue
        package=$(deps_package_of "$command")
        [ -n "$package" ] || { echo "  FAIL $command is missing, and scripts/packages.txt lists no package for it"; exit 1; }
        needs_missing "$command" "$package"
    done
}

needs_debs() {
    local package
    for package in "$@"; do
        deps_cached_deb "$package" >/dev/null || needs_missing "the cached .deb of $package" "$package"
    done
}
