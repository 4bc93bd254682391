#!/usr/bin/env bash
# Tap offloads: the namespace's tap has TCP segmentation and checksum offload on, so 64 KiB segments
# cross it both ways at any MTU. 256 MiB each way at namespace MTU 1500 and 65520, over IPv4 and IPv6,
# arrive intact; 10 MB of numbered UDP datagrams each way at MTU 1500 all arrive; with --no-offload the
# tap is plain and the same transfers still pass. With UDP segmentation offload too (Linux 6.2+), a sender's
# UDP_SEGMENT datagrams cross the tap 32 to a frame and still arrive one by one, and so do bursts from the
# host (replies on the namespace's flow, datagrams to a -u port), which we hand over 32 to a frame. A TCP segment from the
# guest with a bad checksum (one it didn't leave for us to finish) is dropped and counted.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq socat ethtool ping
TOOL="$here/tcp_tool.py"
lab_begin
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
head -c 256M /dev/urandom >"$WORK/blob"
BLOB_SHA=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)
# Downloads: every connection gets the file. Uploads: one connection at a time, written to a file.
lab_serve "$LAB_INET" socat -U TCP6-LISTEN:9201,reuseaddr,fork,ipv6only=0 "SYSTEM:cat $WORK/blob"
for port in 9201; do lab_wait_for 50 lab_listening "$LAB_INET" $port; done
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

# transfers NS LABEL: 256 MiB down and up over IPv4 and IPv6.
transfers() {
    local ns="$1" label="$2" family server up start ms
    for family in 4 6; do
        server=203.0.113.10; [ "$family" = 6 ] && server='[2001:db8:2::10]'
        start=$(now_ms)
        ip netns exec "$ns" timeout 60 socat -u "TCP$family:$server:9201" - >"$WORK/down" 2>/dev/null
        ms=$(( $(now_ms) - start ))
        check "$label, IPv$family: 256 MiB download intact ($ms ms)" eval '[ "$(sha_of "$WORK/down")" = "$BLOB_SHA" ]'
        up="$WORK/up$family"; rm -f "$up"
        ip netns exec "$LAB_INET" socat -u "TCP$family-LISTEN:9202,reuseaddr" "CREATE:$up" &
        local server_pid=$!; lab_track_pid "$server_pid"
        lab_wait_for 50 lab_listening "$LAB_INET" 9202
        start=$(now_ms)
        ip netns exec "$ns" timeout 60 socat -u "FILE:$WORK/blob" "TCP$family:$server:9202"
        wait "$server_pid"
        ms=$(( $(now_ms) - start ))
        check "$label, IPv$family: 256 MiB upload intact ($ms ms)" eval '[ "$(sha_of "$up")" = "$BLOB_SHA" ]'
    done
}

# udp_both NS LABEL: 7,500 numbered 1400-byte datagrams (10 MB) each way at 200 Mbit/s.
udp_both() {
    local ns="$1" label="$2" receiver
    ip netns exec "$LAB_INET" python3 "$TOOL" udp-seq-receive 203.0.113.10 9301 7500 >"$WORK/udp-out" &
    receiver=$!; lab_track_pid "$receiver"
    sleep 0.3
    ip netns exec "$ns" python3 "$TOOL" udp-seq-send 203.0.113.10 9301 7500 200 >/dev/null
    wait "$receiver"
    check "$label: 10 MB of numbered datagrams from the namespace all arrive" grep -q "^ok 7500" "$WORK/udp-out"
    ip netns exec "$LAB_INET" python3 "$TOOL" udp-seq-receive 2001:db8:2::10 9303 7500 >"$WORK/udp-out" &
    receiver=$!; lab_track_pid "$receiver"
    sleep 0.3
    ip netns exec "$ns" python3 "$TOOL" udp-seq-send-gso 2001:db8:2::10 9303 7500 200 >/dev/null
    wait "$receiver"
    check "$label: 10 MB sent 32 datagrams to a send (UDP_SEGMENT, IPv6) all arrive" grep -q "^ok 7500" "$WORK/udp-out"
    ip netns exec "$ns" python3 "$TOOL" udp-seq-receive 0.0.0.0 9302 7500 >"$WORK/udp-in" &
    receiver=$!; lab_track_pid "$receiver"
    sleep 0.3
    ip netns exec "$LAB_INET" python3 "$TOOL" udp-seq-send 198.51.100.2 9302 7500 200 >/dev/null
    wait "$receiver"
    check "$label: 10 MB of numbered datagrams into the namespace all arrive" grep -q "^ok 7500" "$WORK/udp-in"
    # To the forwarded port in bursts of 32 (the sender's UDP_SEGMENT): one frame per burst with USO.
    ip netns exec "$ns" python3 "$TOOL" udp-seq-receive 0.0.0.0 9302 7500 >"$WORK/udp-in" &
    receiver=$!; lab_track_pid "$receiver"
    sleep 0.3
    ip netns exec "$LAB_INET" python3 "$TOOL" udp-seq-send-gso 198.51.100.2 9302 7500 200 >/dev/null
    wait "$receiver"
    check "$label: 10 MB in bursts of 32 to the forwarded port all arrive" grep -q "^ok 7500" "$WORK/udp-in"
    # Replies on the namespace's own flow, 32 at a time: with UDP segmentation they cross as one frame.
    ip netns exec "$LAB_INET" python3 "$TOOL" udp-seq-serve 203.0.113.10 9304 7500 200 >/dev/null &
    receiver=$!; lab_track_pid "$receiver"
    sleep 0.3
    ip netns exec "$ns" python3 "$TOOL" udp-seq-fetch 203.0.113.10 9304 7500 >"$WORK/udp-in"
    wait "$receiver"
    check "$label: 10 MB of replies in bursts of 32 all arrive in the namespace" grep -q "^ok 7500" "$WORK/udp-in"
}

for variant in offload plain; do
    for mtu in 1500 65520; do
        ns="$LAB_ID-$variant-$mtu"; lab_add_ns "$ns"
        extra=(); [ "$variant" = plain ] && extra=(--no-offload)
        check "pasta starts ($variant, MTU $mtu)" lab_start_pasta --config-net -q -m "$mtu" -t none -u 9302 -T none -U none \
            "${extra[@]}" --netns "$ns"
        tso=$(ip netns exec "$ns" ethtool -k eth0 | sed -n 's/^tcp-segmentation-offload: \([a-z]*\).*/\1/p')
        uso=$(ip netns exec "$ns" ethtool -k eth0 | sed -n 's/^tx-udp-segmentation: \([a-z]*\).*/\1/p')
        if [ "$variant" = offload ]; then
            check "MTU $mtu: the namespace's tap has TCP segmentation offload on ($tso)" [ "$tso" = on ]
            if kernel_at_least 6 2; then
                check "MTU $mtu: and UDP segmentation offload ($uso)" [ "$uso" = on ]
            else
                skip_check "MTU $mtu: UDP segmentation offload on the tap needs Linux 6.2 (this is $(uname -r))"
            fi
        else
            check "MTU $mtu, --no-offload: the tap has no TCP segmentation offload ($tso)" [ "$tso" = off ]
            check "MTU $mtu, --no-offload: nor UDP segmentation offload (${uso:-none})" [ "${uso:-off}" = off ]
        fi
        transfers "$ns" "$variant, MTU $mtu"
        [ "$mtu" = 1500 ] && udp_both "$ns" "$variant, MTU $mtu"
        lab_stop "$PASTA_PID"
    done
done

echo "TCP segments with a bad checksum from the guest are dropped and counted"
for variant in offload plain; do
    ns="$LAB_ID-ck-$variant"; lab_add_ns "$ns"; log="$WORK/checksum-$variant.log"
    extra=(); [ "$variant" = plain ] && extra=(--no-offload)
    check "pasta starts ($variant, with a debug log)" lab_start_pasta --config-net -d -l "$log" -t none -u none -T none \
        -U none "${extra[@]}" --netns "$ns"
    ip netns exec "$ns" ping -c1 -W1 198.51.100.1 >/dev/null 2>&1
    gw_mac=$(ip -n "$ns" -j neigh show 198.51.100.1 | jq -r '.[0].lladdr // empty')
    ip netns exec "$ns" python3 "$TOOL" syn eth0 "$gw_mac" 198.51.100.2 203.0.113.10 9401 bad >/dev/null
    lab_wait_for 30 grep -q "bad checksum from the guest dropped (1 so far)" "$log"
    check "$variant: a SYN with a bad checksum is dropped and counted" grep -q "bad checksum from the guest dropped (1 so far)" "$log"
    check "$variant: and opens no connection" eval '! grep -q "port 9401" "$log"'
    ip netns exec "$ns" python3 "$TOOL" syn eth0 "$gw_mac" 198.51.100.2 203.0.113.10 9402 good >/dev/null
    lab_wait_for 30 grep -q "port 9402" "$log"
    check "$variant: the same SYN with its checksum right is taken" grep -q "guest connects to 203.0.113.10 port 9402" "$log"
    check "$variant: nothing else counted as bad" eval '! grep -q "dropped (2 so far)" "$log"'
    lab_stop "$PASTA_PID"
done
finish
