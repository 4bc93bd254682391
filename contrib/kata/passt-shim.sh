#!/bin/sh
# passt, as Kata Containers' passt networking model runs it, handed to kata-passt-endpoint: the runtime
# calls `passt -P DIR/kata-passt-N.pid -s DIR/kata-passt-N.socket` and then reads the PID file; this runs
# `kata-passt-endpoint attach --index N --dir DIR` instead, which removes a crashed passt's files first
# and returns only once passt is verified and its socket accepts. The PID file is passt's, as before.
#
# Install it as "passt" in a directory of its own that comes first in the runtime's PATH (not next to
# kata-passt-endpoint, which runs the real passt found beside itself):
#   install -D -m 0755 contrib/kata/passt-shim.sh /usr/local/libexec/kata-passt/passt
# KATA_PASST_ENDPOINT names the helper (default: kata-passt-endpoint on PATH). Its JSON answer goes to
# standard error, which the runtime logs; the exit status is the helper's (see kata-passt-endpoint --help).
set -u
endpoint="${KATA_PASST_ENDPOINT:-kata-passt-endpoint}"
say() { echo "passt (kata-passt-endpoint shim): $*" >&2; }

# The helper would find this shim as its passt if no real passt sits next to it: refuse to loop.
if [ -n "${KATA_PASST_SHIM_ACTIVE:-}" ]; then
    say "kata-passt-endpoint runs this shim as its passt: install the real passt next to kata-passt-endpoint"
    exit 1
fi
export KATA_PASST_SHIM_ACTIVE=1

if [ $# -lt 4 ] || [ "$1" != -P ] || [ "$3" != -s ]; then
    say "expected Kata's call: passt -P DIR/kata-passt-N.pid -s DIR/kata-passt-N.socket [PASST-OPTIONS]"
    exit 1
fi
pidfile="$2"
socket="$4"
shift 4
directory="${pidfile%/*}"
name="${pidfile##*/}"
index="${name#kata-passt-}"
index="${index%.pid}"
case "$pidfile" in /*) ;; *) say "$pidfile is not an absolute path"; exit 1 ;; esac
case "$index" in '' | *[!0-9]*) say "$pidfile is not DIR/kata-passt-N.pid"; exit 1 ;; esac
if [ "$name" != "kata-passt-$index.pid" ] || [ "$socket" != "$directory/kata-passt-$index.socket" ]; then
    say "$pidfile and $socket are not DIR/kata-passt-N.pid and DIR/kata-passt-N.socket"
    exit 1
fi
exec "$endpoint" attach --index "$index" --dir "${directory:-/}" -- "$@" 1>&2
