#!/usr/bin/env bash
# Boots the guest from build-guest.sh under qemu (TCG) with one virtio-net NIC on a passt socket, and
# returns the status of the guest's /test.sh.
#
#   run-guest.sh --socket PATH [--guest DIR] [--script FILE] [--log FILE] [--timeout SECONDS]
#                [--mac MAC] [--memory MIB] [--append ARGS] [--vhost-user]
#
#   --socket   passt's UNIX socket: -netdev stream (qemu >= 7.2) carries each Ethernet frame behind a
#              4-byte big-endian length, the framing passt speaks. (-netdev socket uses the same framing
#              but only over TCP or an inherited fd; the stream backend is the one that dials a path.)
#   --guest    the directory with vmlinuz and initrd.gz (default: $GUEST_DIR)
#   --script   a shell script the guest runs as /test.sh once eth0 has its lease; it is appended to the
#              initrd as a second cpio archive, so the image needn't be rebuilt for each test
#   --log      where the serial console goes (default: standard output); lines starting with "guest:"
#              come from the guest's /init, everything else from the kernel or the script
#   --timeout  seconds before qemu is killed (default 120)
#   --vhost-user  the socket speaks vhost-user (passt --vhost-user): the NIC is -netdev vhost-user, and
#              the guest's memory a shared memfd the backend maps (its size must equal -m)
#   --kvm      KVM instead of TCG (the caller checks /dev/kvm works)
#
# Exit status: the guest script's status from the "guest: exit N" line; 124 when the timeout struck;
# 125 when qemu ended without that line (kernel panic, qemu error: see the log). qemu is stopped by its
# PID on every way out, including SIGTERM and SIGINT to this script.
set -u
GUEST="${GUEST_DIR:-}"
SOCKET=""
SCRIPT=""
LOG=""
TIMEOUT=120
MAC="52:54:00:12:34:56"
MEMORY=256
APPEND=""
VHOST_USER=no
ACCEL=tcg
CPU=max
while [ $# -gt 0 ]; do
    case "$1" in
    --socket) SOCKET="$2"; shift 2 ;;
    --guest) GUEST="$2"; shift 2 ;;
    --script) SCRIPT="$2"; shift 2 ;;
    --log) LOG="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --mac) MAC="$2"; shift 2 ;;
    --memory) MEMORY="$2"; shift 2 ;;
    --append) APPEND="$2"; shift 2 ;;
    --vhost-user) VHOST_USER=yes; shift ;;
    --kvm) ACCEL=kvm; CPU=host; shift ;;
    *) echo "run-guest.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$SOCKET" ] || { echo "run-guest.sh: --socket PATH is required" >&2; exit 2; }
[ -S "$SOCKET" ] || { echo "run-guest.sh: $SOCKET is not a socket" >&2; exit 2; }
[ -f "$GUEST/vmlinuz" ] && [ -f "$GUEST/initrd.gz" ] ||
    { echo "run-guest.sh: no vmlinuz and initrd.gz in '$GUEST' (run build-guest.sh)" >&2; exit 2; }
QEMU=$(command -v qemu-system-x86_64) || { echo "run-guest.sh: qemu-system-x86_64 is missing" >&2; exit 2; }

TMP=$(mktemp -d /tmp/run-guest.XXXXXX)
QEMU_PID=""
stop() {
    if [ -n "$QEMU_PID" ]; then
        kill "$QEMU_PID" 2>/dev/null
        wait "$QEMU_PID" 2>/dev/null
        QEMU_PID=""
    fi
    rm -rf "$TMP"
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

INITRD="$GUEST/initrd.gz"
if [ -n "$SCRIPT" ]; then
    mkdir "$TMP/extra"
    cp "$SCRIPT" "$TMP/extra/test.sh"
    (cd "$TMP/extra" && echo test.sh | cpio -o -H newc --quiet | gzip -1) >"$TMP/extra.cpio.gz"
    cat "$GUEST/initrd.gz" "$TMP/extra.cpio.gz" >"$TMP/initrd.gz"
    INITRD="$TMP/initrd.gz"
fi
CONSOLE="$TMP/console"
[ -n "$LOG" ] && CONSOLE="$LOG"
: >"$CONSOLE"

# -nodefaults: no default NIC (qemu would add one on user-mode networking), no VGA, no monitor.
# The console is the first serial port, written to a file the host reads as it grows. qboot, where
# qemu ships it, starts the kernel sooner than SeaBIOS and writes nothing to the console.
BIOS=()
for rom in /usr/share/qemu/qboot.rom /usr/share/qemu-firmware/qboot.rom; do
    [ -f "$rom" ] && { BIOS=(-bios "$rom"); break; }
done
NETDEV=(-netdev "stream,id=s,server=off,addr.type=unix,addr.path=$SOCKET")
NIC_OPTIONS=""
if [ "$VHOST_USER" = yes ]; then
    # qemu 7.2 under TCG crashes (SIGSEGV in msix_set_vector_notifiers) when a vhost device starts with
    # MSI-X: the NIC uses legacy interrupts there.
    [ "$ACCEL" = tcg ] && NIC_OPTIONS=",vectors=0"
    NETDEV=(-object "memory-backend-memfd,id=mem,size=${MEMORY}M,share=on" -numa node,memdev=mem
            -chardev "socket,id=c,path=$SOCKET" -netdev vhost-user,id=s,chardev=c)
fi
"$QEMU" -machine "pc,accel=$ACCEL" "${BIOS[@]}" -cpu "$CPU" -smp 1 -m "$MEMORY" \
    -nodefaults -no-user-config -nographic -no-reboot \
    -serial "file:$CONSOLE" -monitor none \
    -kernel "$GUEST/vmlinuz" -initrd "$INITRD" \
    -append "console=ttyS0 quiet panic=-1 mitigations=off $APPEND" \
    -device "virtio-net-pci,netdev=s,mac=$MAC,romfile=$NIC_OPTIONS" \
    "${NETDEV[@]}" \
    </dev/null >"$TMP/qemu.out" 2>&1 &
QEMU_PID=$!
if [ -z "$LOG" ]; then
    tail -n +1 -f --pid="$QEMU_PID" "$CONSOLE" &
    TAIL_PID=$!
fi

deadline=$((SECONDS + TIMEOUT))
while kill -0 "$QEMU_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
done
timed_out=no
if kill -0 "$QEMU_PID" 2>/dev/null; then
    timed_out=yes
    echo "run-guest.sh: timeout after ${TIMEOUT}s, stopping qemu (pid $QEMU_PID)" >&2
    kill "$QEMU_PID" 2>/dev/null
fi
wait "$QEMU_PID" 2>/dev/null
QEMU_PID=""
[ -n "${TAIL_PID:-}" ] && wait "$TAIL_PID" 2>/dev/null
grep -v "module ui-ui-" "$TMP/qemu.out" >&2

[ "$timed_out" = yes ] && exit 124
status=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^guest: exit \([0-9][0-9]*\)$/\1/p' | tail -1)
[ -n "$status" ] || { echo "run-guest.sh: the guest ended without reporting a status" >&2; exit 125; }
exit "$status"
