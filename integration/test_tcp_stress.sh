#!/usr/bin/env bash
# TCP under stress: 2% random loss on the namespace's input and output (nftables; no netem here) with
# 64 MiB transfers both ways; then a guest sending garbage (random flags and sequence numbers, 20,000
# SYNs, segments for unknown flows, truncated frames) while a transfer runs alongside.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 curl jq socat nft ping
TOOL="$here/tcp_tool.py"
lab_begin with-container
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
head -c 64M /dev/urandom >"$WORK/blob"
BLOB_SHA=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)
lab_serve "$LAB_INET" python3 -m http.server -d "$WORK" --bind :: 8000
lab_serve "$LAB_INET" socat -u TCP4-LISTEN:9101,reuseaddr "CREATE:$WORK/up4"
lab_serve "$LAB_INET" socat -u TCP6-LISTEN:9102,reuseaddr "CREATE:$WORK/up6"
lab_serve "$LAB_INET" python3 "$TOOL" echo-server any 7000
for port in 8000 9101 9102 7000; do lab_wait_for 50 lab_listening "$LAB_INET" $port; done
check "pasta starts" lab_start_pasta --config-net -q -t none -u none -T none -U none --netns "$CTR"
in_ctr() { ip netns exec "$CTR" "$@"; }
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

echo "2% loss each way"
in_ctr nft -f - <<'NFT'
table inet lossy {
    chain input { type filter hook input priority 0; meta l4proto tcp numgen random mod 100 < 2 drop; }
    chain output { type filter hook output priority 0; meta l4proto tcp numgen random mod 100 < 2 drop; }
}
NFT
timed() { local start=$(now_ms); "$@"; local rc=$?; echo "    $(( ($(now_ms) - start) ))ms"; return $rc; }
check "IPv4: 64 MiB download intact" eval 'timed in_ctr curl -s --max-time 120 -o "$WORK/down4" http://203.0.113.10:8000/blob &&
    [ "$(sha_of "$WORK/down4")" = "$BLOB_SHA" ]'
check "IPv6: 64 MiB download intact" eval 'timed in_ctr curl -s --max-time 120 -o "$WORK/down6" "http://[2001:db8:2::10]:8000/blob" &&
    [ "$(sha_of "$WORK/down6")" = "$BLOB_SHA" ]'
check "IPv4: 64 MiB upload intact" eval 'timed in_ctr timeout 120 socat -u "FILE:$WORK/blob" TCP4:203.0.113.10:9101 &&
    lab_wait_for 50 eval "[ \"\$(sha_of $WORK/up4)\" = $BLOB_SHA ]"'
check "IPv6: 64 MiB upload intact" eval 'timed in_ctr timeout 120 socat -u "FILE:$WORK/blob" TCP6:[2001:db8:2::10]:9102 &&
    lab_wait_for 50 eval "[ \"\$(sha_of $WORK/up6)\" = $BLOB_SHA ]"'
in_ctr nft delete table inet lossy

echo "the same download with and without selective acknowledgments (SACK), 2% loss each way"
sack_run() {  # NS: milliseconds for 64 MiB, or 999999 if it failed
    local start; start=$(now_ms)
    ip netns exec "$1" curl -s --max-time 60 -o "$WORK/sack-$1" http://203.0.113.10:8000/blob &&
        [ "$(sha_of "$WORK/sack-$1")" = "$BLOB_SHA" ] && echo $(( $(now_ms) - start )) || echo 999999
}
# The container's pasta offers SACK (the default); a second one, in a namespace of its own, doesn't.
PLAIN="${LAB_ID}-plain"; lab_add_ns "$PLAIN"
CTR_PASTA_PID=$PASTA_PID
PASTA_TCP_SACK=0 lab_start_pasta --config-net -q -t none -u none -T none -U none --netns "$PLAIN"
PASTA_PID=$CTR_PASTA_PID  # the checks below watch the container's pasta
check "SACK is negotiated by default" eval '[ "$(ip netns exec "$CTR" python3 "$TOOL" sack 203.0.113.10 7000)" = sack ]'
check "but not with PASTA_TCP_SACK=0" eval '[ "$(ip netns exec "$PLAIN" python3 "$TOOL" sack 203.0.113.10 7000)" = "no sack" ]'
for ns in "$CTR" "$PLAIN"; do
    ip netns exec "$ns" nft -f - <<'NFT'
table inet lossy {
    chain input { type filter hook input priority 0; meta l4proto tcp numgen random mod 100 < 2 drop; }
    chain output { type filter hook output priority 0; meta l4proto tcp numgen random mod 100 < 2 drop; }
}
NFT
done
with_sack=(); without_sack=()
for i in 1 2 3; do with_sack+=("$(sack_run "$CTR")"); without_sack+=("$(sack_run "$PLAIN")"); done
echo "    with SACK: ${with_sack[*]} ms; without: ${without_sack[*]} ms"
for ns in "$CTR" "$PLAIN"; do ip netns exec "$ns" nft delete table inet lossy; done
middle() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
check "64 MiB under 2% loss take less than 10 s, half of the 20 s they once did ($(middle "${with_sack[@]}") ms)" \
    [ "$(middle "${with_sack[@]}")" -lt 10000 ]
check "without SACK (PASTA_TCP_SACK=0) too ($(middle "${without_sack[@]}") ms)" [ "$(middle "${without_sack[@]}")" -lt 10000 ]

echo "garbage from the guest"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PASTA_PID/status"; }
RSS_BEFORE=$(rss_kb)
in_ctr curl -s --max-time 120 -o "$WORK/alongside" --limit-rate 8M http://203.0.113.10:8000/blob &
ALONGSIDE=$!
GW_MAC=$(ip -n "$CTR" -j neigh show 198.51.100.1 | jq -r '.[0].lladdr // empty')
[ -n "$GW_MAC" ] || { in_ctr ping -c1 -W1 198.51.100.1 >/dev/null 2>&1; GW_MAC=$(ip -n "$CTR" -j neigh show 198.51.100.1 | jq -r '.[0].lladdr'); }
check "40,000 garbage frames sent (20,000 of them SYNs)" \
    eval '[ "$(in_ctr python3 "$TOOL" garbage eth0 "$GW_MAC" 198.51.100.2 203.0.113.10 7000 40000)" = "ok 40000" ]'
wait "$ALONGSIDE"; rc=$?
check "the transfer alongside completed intact" eval '[ $rc -eq 0 ] && [ "$(sha_of "$WORK/alongside")" = "$BLOB_SHA" ]'
check "pasta is still running" lab_alive "$PASTA_PID"
RSS_AFTER=$(rss_kb)
echo "    resident memory: ${RSS_BEFORE} kB before, ${RSS_AFTER} kB after"
check "memory did not grow without bound (< 64 MiB more)" [ $(( RSS_AFTER - RSS_BEFORE )) -lt 65536 ]
check "a new connection still works" eval '[ "$(in_ctr python3 "$TOOL" sequential 203.0.113.10 7000 20)" = "ok 20" ]'
finish
