#!/usr/bin/env bash
# Uploads behind a real uplink: the lab host's uplink is a veth with the ordinary MTU of 1500 and the
# server sits in the lab internet, so the host socket's send buffer stays small (the case that used to
# stall at 0.5 Gbps). Namespace MTU 65520 (pasta's and Podman's default) and 1500.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs jq socat iperf3
lab_begin
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
check "the lab uplink has MTU 1500" [ "$(ip -n "$LAB_HOST" -j link show eth0 | jq '.[0].mtu')" = 1500 ]
lab_serve "$LAB_INET" iperf3 -s -p 5201
lab_serve "$LAB_INET" socat -u TCP4-LISTEN:9101,reuseaddr "CREATE:$WORK/upload"
lab_wait_for 50 lab_listening "$LAB_INET" 5201; lab_wait_for 50 lab_listening "$LAB_INET" 9101

BIG="${CTR}-65520"; SMALL="${CTR}-1500"
lab_add_ns "$BIG"; lab_add_ns "$SMALL"
check "pasta starts with MTU 65520" lab_start_pasta --config-net -q -t none -u none -T none -U none --netns "$BIG"
check "pasta starts with MTU 1500" lab_start_pasta --config-net -q -m 1500 -t none -u none -T none -U none --netns "$SMALL"

gbps() {  # NS [iperf3 args]: received Gbps of a 3 s run
    ip netns exec "$1" iperf3 -c 203.0.113.10 -p 5201 -t 3 -J "${@:2}" 2>/dev/null |
        jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' 2>/dev/null || echo 0
}
# at_least NS GBPS [iperf3 args]: the median of three 3 s runs, each on a new connection, reaches GBPS
# (a stall shows in most runs; one slow run on a loaded machine does not fail the check).
at_least() {
    local ns="$1" threshold="$2" runs=() median; shift 2
    runs=("$(gbps "$ns" "$@")" "$(gbps "$ns" "$@")" "$(gbps "$ns" "$@")")
    median=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n 2p)
    echo "    runs: ${runs[*]} Gbps; median $median"
    awk -v g="$median" -v t="$threshold" 'BEGIN {exit !(g >= t)}'
}
check "namespace MTU 65520 -> server behind the 1500 uplink: at least 4 Gbps" at_least "$BIG" 4
check "namespace MTU 1500 -> server behind the 1500 uplink: at least 2 Gbps" at_least "$SMALL" 2
check "server behind the 1500 uplink -> namespace MTU 65520 (-R): at least 2 Gbps" at_least "$BIG" 2 -R

head -c 256M /dev/urandom >"$WORK/blob"
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }
BLOB_SHA=$(sha_of "$WORK/blob")
start=$(now_ms)
ip netns exec "$BIG" timeout 120 socat -u "FILE:$WORK/blob" TCP4:203.0.113.10:9101
rc=$?
elapsed=$(( $(now_ms) - start ))
echo "    256 MiB in $elapsed ms"
check "256 MiB upload through the 1500 uplink arrives intact (sha256)" eval \
    '[ $rc -eq 0 ] && lab_wait_for 100 eval "[ \"\$(sha_of $WORK/upload)\" = $BLOB_SHA ]"'
check "... at more than 1 Gbps (in less than 2.1 s)" [ "$elapsed" -lt 2100 ]
finish
