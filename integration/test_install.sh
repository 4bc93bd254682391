#!/usr/bin/env bash
# scripts/install.sh into a staging directory (--destdir) with --prefix /usr, as a packager runs it: the
# files README lists are there (man pages too), with modes and links as they will be used (links relative, not into the
# staging directory), --version names the commit the tree was stamped with, and --uninstall removes
# every file again. Nothing outside the staging directory is touched.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/assert.sh"
needs git python3 man
root="$here/.."
STAGE=$(mktemp -d /tmp/pasta-install.XXXXXX)
trap 'rm -rf "$STAGE" "$STAGE.log"' EXIT
commit=$(bash "$root/scripts/stamp-commit.sh")

echo "1. install --destdir --prefix /usr"
check "install.sh --no-build --prefix /usr --destdir STAGE exits 0" \
    eval 'bash "$root/scripts/install.sh" --no-build --prefix /usr --destdir "$STAGE" >"$STAGE.log" 2>&1'
for file in usr/bin/pasta usr/bin/kata-passt-endpoint usr/bin/podman-netplugin; do
    check "$file: an executable file (mode $(stat -c %a "$STAGE/$file" 2>/dev/null))" \
        eval '[ -f "$STAGE/$file" ] && [ ! -L "$STAGE/$file" ] && [ "$(stat -c %a "$STAGE/$file")" = 755 ]'
done
for link in "usr/bin/passt pasta" "usr/bin/pesto pasta" "usr/libexec/pasta-swift/slirp4netns ../../bin/pasta"; do
    read -r name target <<<"$link"
    check "$name -> $target (got '$(readlink "$STAGE/$name")'), and it resolves" \
        eval '[ "$(readlink "$STAGE/$name")" = "$target" ] && [ -x "$STAGE/$name" ]'
done
contrib_count=$(find "$root/contrib" -type f | wc -l)
check "the $contrib_count files of contrib/ in usr/share/pasta-swift/contrib, the same bytes" \
    eval '[ "$(find "$STAGE/usr/share/pasta-swift/contrib" -type f | wc -l)" = "$contrib_count" ] &&
          diff -r "$root/contrib" "$STAGE/usr/share/pasta-swift/contrib" >/dev/null'
check "contrib/kata/passt-shim.sh stays executable" [ -x "$STAGE/usr/share/pasta-swift/contrib/kata/passt-shim.sh" ]
for page in pasta passt pesto pasta-slirp4netns kata-passt-endpoint podman-netplugin; do
    check "usr/share/man/man1/$page.1 renders" eval 'MANWIDTH=80 man -l "$STAGE/usr/share/man/man1/$page.1" 2>/dev/null | grep -q "^NAME"'
done
version=$("$STAGE/usr/bin/pasta" --version 2>&1 | head -n 1)
check "pasta --version: 'pasta-swift VERSION ($commit)' (got '$version')" \
    eval '[[ "$version" =~ ^pasta-swift\ [0-9]+\.[0-9]+\.[0-9]+\ \((.*)\)$ ]] && [ "${BASH_REMATCH[1]}" = "$commit" ]'
check "the commit is this checkout's ($(git -C "$root" rev-parse --short=7 HEAD))" \
    eval '[ "${commit%-dirty}" = "$(git -C "$root" rev-parse --short=7 HEAD)" ]'
check "passt --version says passt" eval '"$STAGE/usr/bin/passt" --version | sed -n 2p | grep -q "^passt: "'
check "nothing outside usr/ in the staging directory" eval '[ "$(ls -A "$STAGE")" = usr ]'

echo "2. --uninstall"
check "install.sh --uninstall --prefix /usr --destdir STAGE exits 0" \
    eval 'bash "$root/scripts/install.sh" --uninstall --prefix /usr --destdir "$STAGE" >"$STAGE.log" 2>&1'
left=$(find "$STAGE" \( -type f -o -type l \) | sed "s|^$STAGE/||" | tr '\n' ' ')
check "no file or link is left (left: '$left')" [ -z "$left" ]
check "our directories are gone (share/pasta-swift, libexec/pasta-swift)" \
    eval '[ ! -e "$STAGE/usr/share/pasta-swift" ] && [ ! -e "$STAGE/usr/libexec/pasta-swift" ]'

echo "3. a passt of another package, a relative --destdir"
mkdir -p "$STAGE/usr/bin"; echo "another passt" >"$STAGE/usr/bin/passt"
bash "$root/scripts/install.sh" --uninstall --prefix /usr --destdir "$STAGE" >/dev/null 2>&1
check "--uninstall leaves a bin/passt that is not our link" grep -qx "another passt" "$STAGE/usr/bin/passt"
rm -rf "$STAGE/usr"
check "a relative --destdir is taken from where install.sh is run" \
    eval '(cd "$STAGE" && bash "$root/scripts/install.sh" --no-build --prefix /opt/p --destdir rel >/dev/null 2>&1) &&
          [ -x "$STAGE/rel/opt/p/bin/pasta" ] && [ ! -e "$root/rel" ]'
rm -rf "$STAGE/rel"

echo "4. bad arguments"
out=$(bash "$root/scripts/install.sh" --prefix relative/path 2>&1); rc=$?
check "a relative --prefix is refused (rc=$rc: $out)" eval '[ "$rc" -eq 2 ] && grep -q "absolute" <<<"$out"'
out=$(bash "$root/scripts/install.sh" --bogus 2>&1); rc=$?
check "an unknown option is refused (rc=$rc: $out)" eval '[ "$rc" -eq 2 ] && grep -q "unknown option --bogus" <<<"$out"'
rm -f "$STAGE.log"
finish
