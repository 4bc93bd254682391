#!/usr/bin/env bash
# The man pages scripts/make-man.py writes from the programs' --help and man/*.in: each renders without a
# warning at 80 columns, has the sections its readers look for, and names every option its program's
# --help shows, and no option --help doesn't (pasta.1 and passt.1 against both modes).
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/assert.sh"
needs python3 man
BUILD=$(dirname "${PASTA:-$here/../.build/release/pasta}")
OUT=$(mktemp -d /tmp/pasta-man.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
check "make-man.py writes the pages" python3 "$here/../scripts/make-man.py" "$BUILD" "$OUT"

# Every --long and -s name a help text's option column shows (two spaces end the column).
help_names() {
    sed -nE 's/^ *(-[^ ].*)$/\1/p' | sed -E 's/  .*//' | grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' |
        tr -d ' ,' | sort -u
}
# Every option name the OPTIONS section's entries show (the tag line after each .TP, in the roff source
# with font changes dropped and \- unescaped).
page_names() {
    sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$1" | awk 'tag {print; tag = 0} /^\.TP/ {tag = 1}' |
        sed -e 's/\\f[BRI]//g' -e 's/\\-/-/g' | sed -E 's/  .*//' |
        grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' | tr -d ' ,' | sort -u
}
for page in "$OUT"/*.1; do
    name=$(basename "$page" .1)
    warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    check "$name.1 renders without warnings${warnings:+: $warnings}" [ -z "$warnings" ]
    rendered=$(MANWIDTH=80 man -l "$page" 2>/dev/null)
    for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO"; do
        grep -qx "$section" <<<"$rendered" || fail "$name.1 has no $section section"
    done
    case "$name" in
        pasta|passt)
            helps=$("$BUILD/pasta" --help; "$BUILD/passt" --help)
            for section in "PORT SPECIFICATIONS" FILES SECURITY "DIFFERENCES FROM PASTA" EXAMPLES; do
                grep -qx "$section" <<<"$rendered" || fail "$name.1 has no $section section"
            done
            for example in podman buildah qemu libvirt Kata; do
                sed -n '/^EXAMPLES/,/^SEE ALSO/p' <<<"$rendered" | grep -qi "$example" || fail "$name.1: no $example example"
            done ;;
        pasta-slirp4netns) helps=$("$BUILD/slirp4netns" --help) ;;
        *) helps=$("$BUILD/$name" --help 2>&1) ;;
    esac
    shown=$(help_names <<<"$helps"); documented=$(page_names "$page")
    missing=$(comm -23 <(echo "$shown") <(echo "$documented") | tr '\n' ' ')
    extra=$(comm -13 <(echo "$shown") <(echo "$documented") | tr '\n' ' ')
    check "$name.1 documents every option of --help ($(wc -l <<<"$shown") names)${missing:+; missing: $missing}" [ -z "$missing" ]
    check "$name.1 names no option --help doesn't${extra:+ ($extra)}" [ -z "$extra" ]
done
check "six pages: pasta, passt, pesto, pasta-slirp4netns, kata-passt-endpoint, podman-netplugin" \
    eval '[ "$(ls "$OUT" | sort | tr "\n" " ")" = "kata-passt-endpoint.1 passt.1 pasta-slirp4netns.1 pasta.1 pesto.1 podman-netplugin.1 " ]'
finish
