#!/usr/bin/env bash
# passt under backpressure: the "VM" (a namespace whose tap bench/stream_bridge joins to passt's socket, as
# qemu would) stops reading for 2 s in the middle of a 128 MiB download. passt's socket fills, and passt
# must hold what it can't send (the data stays in its host socket) instead of dropping frames: the guest's
# TCP then sees every segment in order, and the file arrives intact. The retransmission timer fires while
# the guest is silent; it resends one segment, and the guest's ACK for the originals lets passt go on
# where it was instead of sending everything again.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 curl busybox gcc
lab_begin
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
source "$here/../bench/passt-lab.sh"
passt_lab_build_tools "$WORK" || { echo "  FAIL can't build bench/stream_bridge.c"; exit 1; }
ln -s "$PASTA" "$WORK/passt"
mkdir "$WORK/www"; head -c 128M /dev/urandom >"$WORK/www/blob"
BLOB_SHA=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
lab_serve "$LAB_INET" python3 -m http.server -d "$WORK/www" --bind 203.0.113.10 8000
lab_wait_for 50 lab_listening "$LAB_INET" 8000

NS="$LAB_ID-guest"
if passt_lab_attach "$WORK/passt" "$NS" -D none -S none 2>"$WORK/attach.log"; then
    pass "passt starts and the bridged namespace gets a lease"
else
    fail "passt starts and the bridged namespace gets a lease: $(tr '\n' ' ' <"$WORK/attach.log")"
fi
counter() { ip netns exec "$NS" awk -v key="$1" '$1 == "TcpExt:" {
        if (!seen++) { for (i = 2; i <= NF; i++) name[i] = $i; next }
        for (i = 2; i <= NF; i++) if (name[i] == key) print $i }' /proc/net/netstat; }
ofo_before=$(counter TCPOFOQueue); dup_before=$(counter DelayedACKLost)

ip netns exec "$NS" curl -s --max-time 60 -o "$WORK/got" http://203.0.113.10:8000/blob &
CURL=$!
# The pause lands in the middle of the download: once 4 MiB arrived.
lab_wait_for 100 eval '[ "$(stat -c %s "$WORK/got" 2>/dev/null || echo 0)" -gt 4194304 ]'
kill -STOP "$PASST_LAB_BRIDGE_PID"
sleep 2
queued=$(ip netns exec "$LAB_HOST" ss -Htn state established dst 203.0.113.10 | awk '{s += $1} END {print s + 0}')
kill -CONT "$PASST_LAB_BRIDGE_PID"
echo "    while the guest read nothing, passt's host socket held $queued bytes unread"
wait "$CURL"; rc=$?
check "the download completes (curl status $rc)" [ "$rc" -eq 0 ]
check "the file arrives intact (sha256)" eval '[ "$(sha256sum <"$WORK/got" | cut -d" " -f1)" = "$BLOB_SHA" ]'
check "while the guest's side was full, the data waited in passt's host socket (> 1 MiB)" [ "$queued" -gt 1048576 ]
ofo=$(( $(counter TCPOFOQueue) - ofo_before )); dup=$(( $(counter DelayedACKLost) - dup_before ))
check "the guest saw no segment out of order ($ofo): passt dropped nothing" [ "$ofo" -eq 0 ]
# Timeouts back off from 60 ms (60 + 120 + 240 + 480 + 960 ms): about five in 2 s, each resending one
# segment the guest already had. Host data arriving meanwhile must not add probes of its own.
check "duplicates only from the one-segment probes after timeouts ($dup, at most 8; resending all would be hundreds)" [ "$dup" -le 8 ]
check "passt is still running" lab_alive "$PASST_LAB_PID"
finish
