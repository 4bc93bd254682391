#!/usr/bin/env bash
# Runs scripts/install-deps.sh, then COMMAND, on this machine as it would be on a day the Debian package
# mirror does not answer (as root):
#
#   simulate-mirror-down.sh [--hide installed|all] -- COMMAND...
#
# Both run in namespaces of their own, so the machine is left as it was:
# - a network namespace with only loopback, where a proxy accepts connections and never answers: apt's
#   requests go to it through a throwaway APT_CONFIG (sources list, package lists and archive cache of its
#   own), so apt waits as it would on a silent mirror, and nothing can leave;
# - a mount namespace where the packages install-deps.sh would install are absent: their programs are
#   covered by /dev/null (no longer executable) and their entries are left out of dpkg's status file.
#   --hide installed (the default): the packages install-deps.sh installed on this machine, i.e. what a
#   fresh machine of this kind lacks ($PASTA_DEPS_DIR/installed-here); --hide all: every `install` package
#   of scripts/packages.txt;
# - install-deps.sh records what it could not get in a fresh PASTA_DEPS_DIR (no cached .deb files), which
#   COMMAND sees too.
# COMMAND also gets PASTA_SIMULATED_MIRROR_DOWN=1. The exit status is COMMAND's; install-deps.sh's output
# comes first, after a line "simulate-mirror-down: install-deps.sh took N s (status S)".
set -u
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/deps-lib.sh"

if [ "${1:-}" = --inside ]; then
    shift
    work="$1"; shift
    ip link set lo up || exit 1
    # The silent mirror: a proxy that takes every connection and never says a word.
    python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 3128))
s.listen(128)
print("listening", flush=True)
held = []
while True:
    held.append(s.accept()[0])
' >"$work/proxy.out" 2>&1 &
    proxy=$!
    trap 'kill "$proxy" 2>/dev/null' EXIT
    for _ in $(seq 50); do grep -q listening "$work/proxy.out" && break; sleep 0.1; done
    while read -r package; do
        dpkg-query -L "$package" 2>/dev/null | while read -r file; do
            case "$file" in /bin/*|/sbin/*|/usr/bin/*|/usr/sbin/*) ;; *) continue ;; esac
            [ -f "$file" ] && [ -x "$file" ] && mount --bind /dev/null "$file"
        done
    done <"$work/hide"
    # dpkg's status without the hidden packages' entries (a blank line ends each entry).
    awk -v list="$(tr '\n' ' ' <"$work/hide")" '
         BEGIN { n = split(list, names, " "); for (i = 1; i <= n; i++) hide[names[i]] = 1 }
         /^Package: / { skip = ($2 in hide) }
         { if (!skip) print }
         /^$/ { skip = 0 }' /var/lib/dpkg/status >"$work/status"
    mount --bind "$work/status" /var/lib/dpkg/status || exit 1
    export PASTA_DEPS_DIR="$work/deps" PASTA_SIMULATED_MIRROR_DOWN=1 APT_CONFIG="$work/apt.conf"
    started=$SECONDS
    bash "$here/install-deps.sh"
    status=$?
    echo "simulate-mirror-down: install-deps.sh took $((SECONDS - started)) s (status $status)"
    unset APT_CONFIG
    "$@"
    exit
fi

hide=installed
while [ $# -gt 0 ]; do
    case "$1" in
    --hide) hide="${2:?--hide installed|all}"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: simulate-mirror-down.sh [--hide installed|all] -- COMMAND..." >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: simulate-mirror-down.sh [--hide installed|all] -- COMMAND..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "simulate-mirror-down: run it as root (namespaces, bind mounts)" >&2; exit 2; }
work=$(mktemp -d /tmp/mirror-down.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{lists/partial,cache/archives/partial,sources.list.d,deps}
case "$hide" in
installed) cat "$PASTA_DEPS_DIR/installed-here" 2>/dev/null >"$work/hide" ;;
all) deps_list install >"$work/hide" ;;
*) echo "simulate-mirror-down: --hide installed or all, not $hide" >&2; exit 2 ;;
esac
echo "deb http://deb.debian.org/debian bookworm main" >"$work/sources.list"
mkdir "$work/apt.conf.d"
# The machine's apt.conf and apt.conf.d are left out: a proxy set there must not replace the silent one.
# dpkg is /bin/false: whatever happens, nothing is installed against the edited status file.
cat >"$work/apt.conf" <<CONF
Dir::Etc::Main "/dev/null";
Dir::Etc::Parts "$work/apt.conf.d";
Dir::Etc::SourceList "$work/sources.list";
Dir::Etc::SourceParts "$work/sources.list.d";
Dir::State::Lists "$work/lists";
Dir::Cache "$work/cache";
Dir::Bin::dpkg "/bin/false";
Acquire::http::Proxy "http://127.0.0.1:3128";
Acquire::https::Proxy "http://127.0.0.1:3128";
CONF
chmod -R a+rX "$work"
unshare --net --mount --propagation private -- bash "$0" --inside "$work" "$@"
