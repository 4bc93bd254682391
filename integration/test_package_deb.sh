#!/usr/bin/env bash
# scripts/package-deb.sh builds pasta-swift_VERSION_ARCH.deb; apt-get installs it on this machine without
# downloading anything (in place of Debian's passt, which it replaces), /usr/bin/pasta names the commit,
# `man pasta` finds our page, pasta from /usr/bin connects a lab namespace, and purging the package leaves
# none of its files. Afterwards Debian's passt is back as it was (same version, files and apt mark),
# reinstalled from the .deb install-deps.sh cached, with no network; the trap does that on failure too.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs objdump strip man ping python3 git
# A simulated machine (scripts/simulate-mirror-down.sh) hides packages behind a copy of dpkg's status:
# nothing may be installed there.
[ -z "${PASTA_SIMULATED_MIRROR_DOWN:-}" ] ||
    { echo "skipped: it installs a package, which a machine simulated by simulate-mirror-down.sh can't take"; exit 0; }
root="$here/.."
export DEBIAN_FRONTEND=noninteractive
WORK=$(mktemp -d /tmp/pasta-deb-test.XXXXXX)
chmod 755 "$WORK"  # apt reads the .deb as its unprivileged user

# What is there before: Debian's passt (version, status, apt's mark) is put back exactly so.
passt_state() { dpkg-query -W -f='${Version} ${db:Status-Abbrev}' passt 2>/dev/null; }
passt_before=$(passt_state)
passt_manual=$(apt-mark showmanual passt 2>/dev/null)
passt_deb=""
if [ "${passt_before#* }" = "ii " ]; then
    needs_debs passt
    passt_deb=$(deps_cached_deb passt)
    cached_version=$(dpkg-deb -f "$passt_deb" Version)
    if [ "$cached_version" != "${passt_before%% *}" ]; then
        echo "  FAIL the cached passt .deb is version $cached_version, the installed passt ${passt_before%% *}:" \
             "run scripts/install-deps.sh (nothing was changed)"
        rm -rf "$WORK"; exit 1
    fi
fi
if dpkg-query -W pasta-swift >/dev/null 2>&1; then
    echo "  FAIL pasta-swift is installed already ($(dpkg-query -W -f='${Version} ${db:Status-Abbrev}' pasta-swift)):" \
         "this test would remove it (nothing was changed)"
    rm -rf "$WORK"; exit 1
fi

# apt-get and dpkg run in a session of their own: the signal that ends the test (run.sh's timeout signals
# its whole process group) must not stop them half-way; the test's trap runs once they are done.
package_tool() { setsid -w "$@" </dev/null; }
# dpkg COMMAND..., waiting (up to 60 s) while another apt or dpkg holds the lock.
dpkg_waiting() {
    local i
    for i in $(seq 60); do
        package_tool dpkg "$@" >>"$WORK/restore.log" 2>&1 && return 0
        grep -q "lock" "$WORK/restore.log" || return 1
        : >"$WORK/restore.log"; sleep 1
    done
    return 1
}
# Puts the machine back: no pasta-swift, Debian's passt as before. Quiet, unless it can't; the checks
# come after it.
restore_machine() {
    : >"$WORK/restore.log"
    if dpkg-query -W pasta-swift >/dev/null 2>&1; then
        dpkg_waiting --purge pasta-swift || { echo "    could not purge pasta-swift:"; sed 's/^/      /' "$WORK/restore.log"; }
    fi
    # What an interrupted purge left to configure (man-db's trigger) is finished.
    dpkg_waiting --configure --pending
    if [ -n "$passt_deb" ] && [ "$(passt_state)" != "$passt_before" ]; then
        dpkg_waiting -i "$passt_deb" || { echo "    could not reinstall passt from $passt_deb:"; sed 's/^/      /' "$WORK/restore.log"; }
    fi
    if [ -n "$passt_deb" ]; then
        if [ -n "$passt_manual" ]; then apt-mark manual passt; else apt-mark auto passt; fi >/dev/null 2>&1
    fi
}
lab_begin with-container
trap 'restore_machine; lab_cleanup; rm -rf "$WORK"' EXIT

echo "1. build"
commit=$(bash "$root/scripts/stamp-commit.sh")
check "package-deb.sh exits 0" eval 'bash "$root/scripts/package-deb.sh" --out "$WORK" >"$WORK/build.log" 2>&1'
tail -n 3 "$WORK/build.log" | sed 's/^/    /'
debs=("$WORK"/pasta-swift_*_"$(dpkg --print-architecture)".deb)
deb=${debs[0]}
check "it wrote one pasta-swift_VERSION_$(dpkg --print-architecture).deb (${deb##*/})" \
    eval '[ ${#debs[@]} -eq 1 ] && [ -s "$deb" ]'
if [ ! -s "$deb" ]; then finish; exit 1; fi
field() { dpkg-deb -f "$deb" "$1"; }
depends=$(field Depends)
check "Depends lists the libraries' packages, libc6 among them ($depends)" grep -q "libc6 (>= " <<<"$depends"
check "it replaces passt: Conflicts, Replaces and Provides passt" \
    eval '[ "$(field Conflicts)" = passt ] && [ "$(field Replaces)" = passt ] && [ "$(field Provides)" = passt ]'
dpkg-deb -x "$deb" "$WORK/tree"
needed=$(for f in pasta kata-passt-endpoint podman-netplugin; do objdump -p "$WORK/tree/usr/bin/$f" | awk '$1 == "NEEDED" { print $2 }'; done | sort -u | tr '\n' ' ')
check "its binaries load no Swift library and nothing from /opt/swift (NEEDED: $needed)" \
    eval '! grep -q swift <<<"$needed" && ! objdump -p "$WORK/tree/usr/bin/pasta" | grep -q "RUNPATH.*/opt/swift"'

echo "2. install with apt-get"
# apt sees no package source, only what dpkg has installed and the .deb: it can't download anything, and
# a dependency that is not installed already makes it fail. Its plan first: this package installed,
# nothing removed but passt.
mkdir "$WORK/no-sources.d"
offline=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$WORK/no-sources.d" -o DPkg::Lock::Timeout=60)
package_tool apt-get install -s "${offline[@]}" "$deb" >"$WORK/plan" 2>&1
installs=$(awk '$1 == "Inst" { print $2 }' "$WORK/plan" | tr '\n' ' ')
removals=$(awk '$1 == "Remv" { print $2 }' "$WORK/plan" | tr '\n' ' ')
check "apt would install pasta-swift alone, downloading nothing (it plans: ${installs:-nothing})" \
    [ "$installs" = "pasta-swift " ]
check "apt would remove nothing but Debian's passt (it plans: ${removals:-nothing})" \
    eval '[ -z "$removals" ] || [ "$removals" = "passt " ]'
if [ "$installs" != "pasta-swift " ] || ! { [ -z "$removals" ] || [ "$removals" = "passt " ]; }; then
    sed 's/^/    /' "$WORK/plan" | tail -n 15
    finish; exit 1
fi
check "apt-get install ./${deb##*/}, with no package source, exits 0" \
    eval 'package_tool apt-get install -y -q "${offline[@]}" "$deb" >"$WORK/install.log" 2>&1'
grep -E "^E: " "$WORK/install.log" | sed 's/^/    /'
check "dpkg has pasta-swift installed" \
    eval '[ "$(dpkg-query -W -f="\${db:Status-Abbrev}" pasta-swift 2>/dev/null)" = "ii " ]'
if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' pasta-swift 2>/dev/null)" != "ii " ]; then
    tail -n 15 "$WORK/install.log" | sed 's/^/    /'
    finish; exit 1
fi
check "Debian's passt is no longer installed" eval '[ "$(dpkg-query -W -f="\${db:Status-Abbrev}" passt 2>/dev/null)" != "ii " ]'
ours() { local f; for f in "$@"; do dpkg -S "$f" 2>/dev/null | grep -q "^pasta-swift: " || return 1; done; }
check "/usr/bin/pasta, passt and pesto are the package's" ours /usr/bin/pasta /usr/bin/passt /usr/bin/pesto
version=$(/usr/bin/pasta --version 2>&1 | head -n 1)
check "/usr/bin/pasta --version names the commit $commit (got '$version')" \
    eval '[[ "$version" =~ ^pasta-swift\ [0-9.]+\ \((.*)\)$ ]] && [ "${BASH_REMATCH[1]}" = "$commit" ]'
check "/usr/bin/passt --version says passt" eval '/usr/bin/passt --version | sed -n 2p | grep -q "^passt: "'
page=$(man -w pasta 2>/dev/null)
check "man -w pasta finds our page, compressed (got '$page')" [ "$page" = /usr/share/man/man1/pasta.1.gz ]
check "man passt renders our page" eval 'MANWIDTH=80 man passt 2>/dev/null | grep -q "pasta-swift"'
listed=$(dpkg -L pasta-swift)

echo "3. a short run of /usr/bin/pasta"
PIDFILE="$WORK/pasta.pid"
# pasta sends echo requests through ping sockets, which the lab host's namespace must allow.
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
check "/usr/bin/pasta --config-net connects the lab's container namespace (rc 0)" \
    lab_in "$LAB_HOST" /usr/bin/pasta --config-net -q -t none -u none -T none -U none -P "$PIDFILE" --netns "$CTR"
pid=$(cat "$PIDFILE" 2>/dev/null)
lab_track_pid "$pid"
check "the daemon runs /usr/bin/pasta ($pid)" eval '[ "$(readlink "/proc/$pid/exe")" = /usr/bin/pasta ]'
check "the namespace has the uplink's address 198.51.100.2" \
    eval 'ip -n "$CTR" -o addr show dev eth0 | grep -q "inet 198.51.100.2/24"'
check "ping from the namespace reaches the lab internet (203.0.113.10)" \
    lab_wait_for 30 eval 'lab_in "$CTR" ping -c 1 -W 1 203.0.113.10 >/dev/null 2>&1'
ip netns del "$CTR"
check "pasta exits when the namespace is deleted" lab_wait_for 30 lab_gone "$pid"

echo "4. purge"
check "apt-get purge pasta-swift exits 0" \
    eval 'package_tool apt-get purge -y -q "${offline[@]}" pasta-swift >"$WORK/purge.log" 2>&1'
check "dpkg knows no pasta-swift any more (not even its configuration)" eval '! dpkg-query -W pasta-swift >/dev/null 2>&1'
# Every file and link the package listed is gone; of its directories, only those other packages also own stay.
left=""
while IFS= read -r path; do
    [ -n "$path" ] && [ "$path" != /. ] || continue
    if [ -d "$path" ] && [ ! -L "$path" ]; then
        dpkg -S "$path" >/dev/null 2>&1 || left+="$path "
    elif [ -e "$path" ] || [ -L "$path" ]; then
        left+="$path "
    fi
done <<<"$listed"
count=$(grep -c . <<<"$listed")
check "none of the $count paths dpkg -L listed is left (left: '${left}')" [ -z "$left" ]

echo "5. Debian's passt as before"
restore_machine
passt_after=$(passt_state)
check "passt is installed as before ('$passt_before', now '$passt_after')" [ "$passt_after" = "$passt_before" ]
if [ -n "$passt_deb" ]; then
    check "its files are the package's (dpkg --verify passt)" eval '[ -z "$(dpkg --verify passt 2>&1)" ]'
    check "/usr/bin/pasta is Debian's again" eval 'dpkg -S /usr/bin/pasta | grep -q "^passt: "'
    check "apt's mark is as before ($([ -n "$passt_manual" ] && echo manual || echo auto))" \
        eval '[ "$(apt-mark showmanual passt)" = "$passt_manual" ]'
fi
finish
