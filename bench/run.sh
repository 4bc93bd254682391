#!/usr/bin/env bash
# Side-by-side benchmark: our pasta and Debian's pasta (package passt) in identical lab namespaces,
# alternating run by run, with a veth pair and loopback measured in the same run as references.
# Prints medians (min-max) and the ratio ours/theirs. Run as root on Debian 12:
#   sudo bash bench/run.sh            (RUNS=10 SECONDS_PER_RUN=3 RR_COUNT=20000 RR_RUNS=5 by default)
# THEIRS, PASST_THEIRS and SLIRP_THEIRS replace Debian's pasta, passt and slirp4netns in the other column
# (another build of ours, say, to compare two versions).
# CONGESTION=cubic (or bbr, reno) sets the congestion control of every lab namespace; an algorithm the
# kernel doesn't let namespaces choose is added to net.ipv4.tcp_allowed_congestion_control for the run
# and the list restored afterwards. Nothing leaves the namespaces this script creates.
set -u
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
RUNS="${RUNS:-10}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
RR_COUNT="${RR_COUNT:-20000}"
RR_RUNS="${RR_RUNS:-5}"
OURS="$PWD/.build/release/pasta"
THEIRS="${THEIRS:-/usr/bin/pasta}"
# The passt rows' other column (another build of ours, to compare two versions: its passt link).
PASST_THEIRS="${PASST_THEIRS:-/usr/bin/passt}"
[ -x "$THEIRS" ] || { echo "Debian's pasta is needed: apt-get install passt" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 is needed" >&2; exit 1; }
command -v gcc >/dev/null || { echo "gcc is needed (the round-trip tool)" >&2; exit 1; }
bash scripts/stamp-commit.sh >/dev/null
swift build -c release --static-swift-stdlib >/dev/null 2>&1 || { echo "release build failed" >&2; exit 1; }

LAB_ID="bench$$"
source integration/lab.sh
lab_begin
TOOLS=$(mktemp -d /tmp/pasta-bench.XXXXXX); lab_track_file "$TOOLS"
RR="$TOOLS/tcp_rr"
gcc -O2 -o "$RR" bench/tcp_rr.c || { echo "can't build bench/tcp_rr.c" >&2; exit 1; }

ALLOWED_CC=/proc/sys/net/ipv4/tcp_allowed_congestion_control
ALLOWED_BEFORE=$(cat "$ALLOWED_CC")
restore_allowed_cc() { [ "$(cat "$ALLOWED_CC")" = "$ALLOWED_BEFORE" ] || echo "$ALLOWED_BEFORE" >"$ALLOWED_CC"; }
# A busy loop beside a veth reference run: a forwarder is a third busy process, and on a machine with
# few CPUs that alone takes CPU from the two ends (from the UDP receiver above all).
SPINNER=""
start_spinner() { bash -c 'while :; do :; done' & SPINNER=$!; }
stop_spinner() { [ -z "$SPINNER" ] || { kill "$SPINNER"; wait "$SPINNER" 2>/dev/null; SPINNER=""; }; }
trap 'stop_spinner; lab_cleanup; restore_allowed_cc' EXIT
if [ -n "${CONGESTION:-}" ] && ! grep -qw "$CONGESTION" "$ALLOWED_CC"; then
    echo "$ALLOWED_BEFORE $CONGESTION" >"$ALLOWED_CC" || { echo "can't allow $CONGESTION" >&2; exit 1; }
fi
# Every namespace the bench makes uses the same congestion control (new namespaces inherit the machine's).
set_congestion() { [ -z "${CONGESTION:-}" ] || ip netns exec "$1" sysctl -qw net.ipv4.tcp_congestion_control="$CONGESTION"; }
for ns in "$LAB_HOST" "$LAB_INET"; do set_congestion "$ns"; done
echo "congestion control: $(ip netns exec "$LAB_HOST" sysctl -n net.ipv4.tcp_congestion_control)"

# Servers on the lab host's loopback (reached through the gateway address) and in the lab internet,
# behind the lab host's uplink: a veth with MTU 1500, like a real NIC.
lab_serve "$LAB_HOST" iperf3 -s -p 5201
lab_serve "$LAB_HOST" "$RR" server 127.0.0.1 7001
lab_serve "$LAB_INET" iperf3 -s -p 5201
lab_serve "$LAB_INET" "$RR" server 0.0.0.0 7001
# UDP replies from a wildcard-bound server would leave from gw0's address, which a connected client drops.
lab_serve "$LAB_INET" iperf3 -s -p 5203 -B 203.0.113.10
lab_wait_for 50 lab_listening "$LAB_INET" 5203
for port in 5201 7001; do lab_wait_for 50 lab_listening "$LAB_HOST" $port; lab_wait_for 50 lab_listening "$LAB_INET" $port; done

# One container namespace per implementation and MTU, each with its pasta running for the whole bench.
start_pasta() {  # NAME BINARY MTU TCP_PORTS EXTRA...
    local ns="$LAB_ID-$1" binary="$2" mtu="$3" tcp="$4"; shift 4
    lab_add_ns "$ns"
    set_congestion "$ns"
    local pidfile="/tmp/$ns.pid"; lab_track_file "$pidfile"
    lab_in "$LAB_HOST" "$binary" --config-net -m "$mtu" -t "$tcp" -u "${UDP:-none}" -T none -U none -q -P "$pidfile" \
        --netns "$ns" "$@" || { echo "$binary failed to start" >&2; exit 1; }
    lab_track_pid "$(cat "$pidfile")"
}
start_pasta ours-65520 "$OURS" 65520 none
start_pasta theirs-65520 "$THEIRS" 65520 none --runas 0
start_pasta ours-1500 "$OURS" 1500 none
start_pasta theirs-1500 "$THEIRS" 1500 none --runas 0
# The splice path: -t from the lab host's loopback into a server in the namespace (ours on 5311/7011,
# theirs on 5321/7021: both bind their ports on the lab host).
UDP=5311 start_pasta ours-splice "$OURS" 65520 5311,7011
UDP=5321 start_pasta theirs-splice "$THEIRS" 65520 5321,7021 --runas 0
lab_serve "$LAB_ID-ours-splice" iperf3 -s -p 5311
lab_serve "$LAB_ID-ours-splice" "$RR" server 0.0.0.0 7011
lab_serve "$LAB_ID-theirs-splice" iperf3 -s -p 5321
lab_serve "$LAB_ID-theirs-splice" "$RR" server 0.0.0.0 7021
for port in 5311 7011; do lab_wait_for 50 lab_listening "$LAB_ID-ours-splice" $port; done
for port in 5321 7021; do lab_wait_for 50 lab_listening "$LAB_ID-theirs-splice" $port; done
sleep 1

# The physical reference: two namespaces joined by a veth pair, same MTU as pasta's default.
VA="$LAB_ID-va"; VB="$LAB_ID-vb"
lab_add_ns "$VA"; lab_add_ns "$VB"; set_congestion "$VA"; set_congestion "$VB"
ip link add "$LAB_ID-a" netns "$VA" mtu 65520 type veth peer name "$LAB_ID-b" netns "$VB" mtu 65520
ip -n "$VA" addr add 192.0.2.1/24 dev "$LAB_ID-a"; ip -n "$VA" link set "$LAB_ID-a" up
ip -n "$VB" addr add 192.0.2.2/24 dev "$LAB_ID-b"; ip -n "$VB" link set "$LAB_ID-b" up
lab_serve "$VB" iperf3 -s -p 5201
lab_serve "$VB" "$RR" server 192.0.2.2 7001
lab_wait_for 50 lab_listening "$VB" 5201; lab_wait_for 50 lab_listening "$VB" 7001

gbps() {  # NS SERVER [iperf3 args]: received Gbps of one run, or 0 (port: $PORT, default 5201)
    local ns="$1" server="$2"; shift 2
    ip netns exec "$ns" iperf3 -c "$server" -p "${PORT:-5201}" -t "$SECONDS_PER_RUN" -J "$@" 2>/dev/null |
        jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' 2>/dev/null || echo 0
}

# stats VALUES...: "median (min-max)"
stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2;
    printf "%.2f (%.2f-%.2f)", m, v[1], v[NR]}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

printf '%-44s %-22s %-22s %-7s %s\n' "row ($RUNS runs of ${SECONDS_PER_RUN}s)" "ours" "Debian pasta" "ratio" "reference"
throughput_row() {  # LABEL MTU IPERF_ARGS...
    local label="$1" mtu="$2"; shift 2
    local ours=() theirs=() reference=() i
    for ((i = 0; i < RUNS; i++)); do
        if ((i % 2)); then
            theirs+=("$(gbps "$LAB_ID-theirs-$mtu" 198.51.100.1 "$@")"); ours+=("$(gbps "$LAB_ID-ours-$mtu" 198.51.100.1 "$@")")
        else
            ours+=("$(gbps "$LAB_ID-ours-$mtu" 198.51.100.1 "$@")"); theirs+=("$(gbps "$LAB_ID-theirs-$mtu" 198.51.100.1 "$@")")
        fi
        [ "$mtu" = 65520 ] && reference+=("$(gbps "$VA" 192.0.2.2 "$@")")
    done
    local ratio; ratio=$(awk -v a="$(median "${ours[@]}")" -v b="$(median "${theirs[@]}")" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    local ref="-"
    if [ ${#reference[@]} -gt 0 ]; then
        ref="veth $(stats "${reference[@]}"); ours/veth $(awk -v a="$(median "${ours[@]}")" \
            -v b="$(median "${reference[@]}")" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
    fi
    printf '%-44s %-22s %-22s %-7s %s\n' "$label" "$(stats "${ours[@]}")" "$(stats "${theirs[@]}")" "$ratio" "$ref"
}
throughput_row "TCP ns->host Gbps, tap MTU 65520" 65520
throughput_row "TCP host->ns Gbps, tap MTU 65520" 65520 -R
throughput_row "TCP ns->host Gbps, tap MTU 1500" 1500
throughput_row "TCP host->ns Gbps, tap MTU 1500" 1500 -R

# slirp4netns rows: our binary under the name slirp4netns against Debian's slirp4netns 1.2.0, each started
# as Podman starts it (-c --mtu=N --netns-type=path NS tap0) in a namespace of its own; iperf3 from the
# namespace to the lab host's loopback through the gateway 10.0.2.2, both ways.
SLIRP_THEIRS="${SLIRP_THEIRS:-/usr/bin/slirp4netns}"
if [ -x "$SLIRP_THEIRS" ]; then
    ln -sf "$OURS" "$TOOLS/slirp4netns"
    start_slirp() {  # NAME BINARY MTU
        local ns="$LAB_ID-$1"
        lab_add_ns "$ns"
        set_congestion "$ns"
        # `ip netns exec` directly, not the lab_in function: backgrounded, a function runs in a subshell and
        # $! would be that subshell's PID, which the clean-up stops while slirp4netns stays.
        ip netns exec "$LAB_HOST" "$2" --mtu="$3" -c --netns-type=path "/run/netns/$ns" tap0 >/dev/null 2>&1 &
        lab_track_pid $!
        lab_wait_for 50 eval "ip -n $ns addr show tap0 2>/dev/null | grep -q 10.0.2.100" ||
            { echo "$2 failed to start as slirp4netns" >&2; exit 1; }
    }
    for mtu in 65520 1500; do
        start_slirp "slirp-ours-$mtu" "$TOOLS/slirp4netns" "$mtu"
        start_slirp "slirp-theirs-$mtu" "$SLIRP_THEIRS" "$mtu"
    done
    slirp_row() {  # LABEL MTU IPERF_ARGS...
        local label="$1" mtu="$2"; shift 2
        local ours=() theirs=() i
        for ((i = 0; i < RUNS; i++)); do
            if ((i % 2)); then
                theirs+=("$(gbps "$LAB_ID-slirp-theirs-$mtu" 10.0.2.2 "$@")"); ours+=("$(gbps "$LAB_ID-slirp-ours-$mtu" 10.0.2.2 "$@")")
            else
                ours+=("$(gbps "$LAB_ID-slirp-ours-$mtu" 10.0.2.2 "$@")"); theirs+=("$(gbps "$LAB_ID-slirp-theirs-$mtu" 10.0.2.2 "$@")")
            fi
        done
        printf '%-44s %-22s %-22s %-7s %s\n' "$label" "$(stats "${ours[@]}")" "$(stats "${theirs[@]}")" \
            "$(ratio_of "$(median "${ours[@]}")" "$(median "${theirs[@]}")")" "(Debian pasta column: its slirp4netns 1.2.0)"
    }
    slirp_row "slirp4netns TCP ns->host Gbps, MTU 65520" 65520
    slirp_row "slirp4netns TCP host->ns Gbps, MTU 65520" 65520 -R
    slirp_row "slirp4netns TCP ns->host Gbps, MTU 1500" 1500
    slirp_row "slirp4netns TCP host->ns Gbps, MTU 1500" 1500 -R
else
    echo "slirp4netns rows skipped: Debian's slirp4netns is needed (apt-get install slirp4netns)"
fi

# Uplink rows: the server in the lab internet, behind the lab host's 1500-byte uplink; the reference is
# the lab host itself talking to the same server over the same veth. Retransmits are what the TCP
# senders on that path (pasta's socket or the lab host's client, and the server) resent per run; in
# brackets, how many of them the receiver reported as duplicates (D-SACK): spurious, after reordering.
tcp_counters() {  # NS: "RetransSegs TCPDSACKRecvSegs" of the namespace so far
    ip netns exec "$1" awk '$1 == "Tcp:" || $1 == "TcpExt:" {
            if (!($1 in header)) { header[$1] = 1; for (i = 2; i <= NF; i++) name[$1, i] = $i; next }
            for (i = 2; i <= NF; i++) value[name[$1, i]] = $i }
        END {printf "%d %d\n", value["RetransSegs"], value["TCPDSACKRecvSegs"]}' /proc/net/snmp /proc/net/netstat
}
uplink_counters() {  # the uplink's two ends together
    local a b; a=$(tcp_counters "$LAB_HOST"); b=$(tcp_counters "$LAB_INET")
    echo "$(( ${a% *} + ${b% *} )) $(( ${a#* } + ${b#* } ))"
}
gbps_retrans() {  # NS SERVER [iperf3 args]: "Gbps retransmits spurious" of one run
    local before after g; before=$(uplink_counters)
    g=$(gbps "$@")
    after=$(uplink_counters)
    local b1=${before% *} b2=${before#* } a1=${after% *} a2=${after#* }
    echo "$g $(( a1 - b1 )) $(( a2 - b2 ))"
}
uplink_row() {  # LABEL MTU IPERF_ARGS...
    local label="$1" mtu="$2"; shift 2
    local ours=() theirs=() veth=() ours_r=() theirs_r=() veth_r=() ours_s=() theirs_s=() veth_s=() i out
    for ((i = 0; i < RUNS; i++)); do
        out=$(gbps_retrans "$LAB_ID-ours-$mtu" 203.0.113.10 "$@"); read -r g r d <<<"$out"; ours+=("$g"); ours_r+=("$r"); ours_s+=("$d")
        out=$(gbps_retrans "$LAB_ID-theirs-$mtu" 203.0.113.10 "$@"); read -r g r d <<<"$out"; theirs+=("$g"); theirs_r+=("$r"); theirs_s+=("$d")
        if [ "$mtu" = 65520 ]; then
            out=$(gbps_retrans "$LAB_HOST" 203.0.113.10 "$@"); read -r g r d <<<"$out"; veth+=("$g"); veth_r+=("$r"); veth_s+=("$d")
        fi
    done
    local o t; o=$(median "${ours[@]}"); t=$(median "${theirs[@]}")
    local ref="-" ref_r=""
    if [ ${#veth[@]} -gt 0 ]; then
        ref="veth $(stats "${veth[@]}"); ours/veth $(ratio_of "$o" "$(median "${veth[@]}")")"
        ref_r="veth $(median "${veth_r[@]}") ($(median "${veth_s[@]}"))"
    fi
    printf '%-44s %-22s %-22s %-7s %s\n' "$label" "$(stats "${ours[@]}")" "$(stats "${theirs[@]}")" "$(ratio_of "$o" "$t")" "$ref"
    printf '%-44s %-22s %-22s %-7s %s\n' "  retransmits per run, median (spurious)" "$(median "${ours_r[@]}") ($(median "${ours_s[@]}"))" \
        "$(median "${theirs_r[@]}") ($(median "${theirs_s[@]}"))" "" "$ref_r"
}
uplink_row "TCP ns->internet Gbps, MTU 65520, uplink 1500" 65520
uplink_row "TCP internet->ns Gbps, MTU 65520, uplink 1500" 65520 -R
uplink_row "TCP ns->internet Gbps, MTU 1500, uplink 1500" 1500
uplink_row "TCP internet->ns Gbps, MTU 1500, uplink 1500" 1500 -R

# passt: a namespace stands in for the VM, its tap joined to passt's socket by bench/stream_bridge (what
# qemu does with a guest's frames), configured by passt's DHCP. Servers in the lab internet.
source bench/passt-lab.sh
passt_lab_build_tools "$TOOLS" || { echo "can't build bench/stream_bridge.c" >&2; exit 1; }
ln -sf "$OURS" "$TOOLS/passt"
passt_lab_attach "$TOOLS/passt" "$LAB_ID-ours-passt" -D none -S none || { echo "our passt failed" >&2; exit 1; }
passt_lab_attach "$PASST_THEIRS" "$LAB_ID-theirs-passt" -D none -S none || { echo "the other passt ($PASST_THEIRS) failed" >&2; exit 1; }
passt_row() {  # LABEL IPERF_ARGS...
    local label="$1"; shift
    local ours=() theirs=() i
    for ((i = 0; i < RUNS; i++)); do
        if ((i % 2)); then
            theirs+=("$(gbps "$LAB_ID-theirs-passt" 203.0.113.10 "$@")"); ours+=("$(gbps "$LAB_ID-ours-passt" 203.0.113.10 "$@")")
        else
            ours+=("$(gbps "$LAB_ID-ours-passt" 203.0.113.10 "$@")"); theirs+=("$(gbps "$LAB_ID-theirs-passt" 203.0.113.10 "$@")")
        fi
    done
    printf '%-44s %-22s %-22s %-7s %s\n' "$label" "$(stats "${ours[@]}")" "$(stats "${theirs[@]}")" \
        "$(ratio_of "$(median "${ours[@]}")" "$(median "${theirs[@]}")")" "(Debian passt column: its passt)"
}
passt_row "passt TCP guest->internet Gbps, uplink 1500"
passt_row "passt TCP internet->guest Gbps, uplink 1500" -R

# passt over vhost-user: bench/vhost_user_frontend plays qemu on the guest's rings as a Linux guest drives
# them: EVENT_IDX, offloads (partial checksums, TSO both ways), 256 entries of mergeable buffers of a page
# (a Linux driver sizes them by the average packet, up to a page: bulk transfers get a page). Debian 12's
# passt has no vhost-user: the other column is our own passt over the stream socket, and the reference our
# pasta's tap, measured in the same runs.
PASST_LAB_FRONTEND=vhost-user PASST_LAB_FRONTEND_OPTS="--event-idx --offload --rx-buffer 4096" \
    passt_lab_attach "$TOOLS/passt" "$LAB_ID-ours-vhost" -D none -S none ||
    { echo "our passt --vhost-user failed" >&2; exit 1; }
vhost_row() {  # LABEL IPERF_ARGS...
    local label="$1"; shift
    local vhost=() stream=() tap=() i
    for ((i = 0; i < RUNS; i++)); do
        vhost+=("$(gbps "$LAB_ID-ours-vhost" 203.0.113.10 "$@")")
        stream+=("$(gbps "$LAB_ID-ours-passt" 203.0.113.10 "$@")")
        tap+=("$(gbps "$LAB_ID-ours-65520" 203.0.113.10 "$@")")
    done
    local v; v=$(median "${vhost[@]}")
    printf '%-44s %-22s %-22s %-7s %s\n' "$label" "$(stats "${vhost[@]}")" "$(stats "${stream[@]}")" \
        "$(ratio_of "$v" "$(median "${stream[@]}")")" \
        "(columns: ours vhost-user, ours stream) pasta tap $(stats "${tap[@]}"); vhost/tap $(ratio_of "$v" "$(median "${tap[@]}")")"
}
vhost_row "passt vhost-user TCP guest->internet Gbps"
vhost_row "passt vhost-user TCP internet->guest Gbps" -R
passt_udp_row() {
    local ours=() theirs=() ours_loss=() theirs_loss=() i out
    for ((i = 0; i < RUNS; i++)); do
        out=$(PORT=5203 udp_run "$LAB_ID-ours-passt" 203.0.113.10 0); ours+=("${out% *}")
        out=$(PORT=5203 udp_run "$LAB_ID-theirs-passt" 203.0.113.10 0); theirs+=("${out% *}")
        out=$(PORT=5203 udp_run "$LAB_ID-ours-passt" 203.0.113.10 1G); ours_loss+=("${out#* }")
        out=$(PORT=5203 udp_run "$LAB_ID-theirs-passt" 203.0.113.10 1G); theirs_loss+=("${out#* }")
    done
    printf '%-44s %-22s %-22s %-7s\n' "passt UDP guest->internet received Gbps, -b 0" "$(stats "${ours[@]}")" \
        "$(stats "${theirs[@]}")" "$(ratio_of "$(median "${ours[@]}")" "$(median "${theirs[@]}")")"
    printf '%-44s %-22s %-22s\n' "passt UDP guest->internet % lost at -b 1G" "$(stats "${ours_loss[@]}")" "$(stats "${theirs_loss[@]}")"
}

# Splice rows: a client on the lab host's 127.0.0.1 through -t to iperf3 in the namespace; the reference
# is plain loopback in the lab host namespace, measured in the same runs.
splice_row() {  # LABEL IPERF_ARGS...
    local label="$1"; shift
    local ours=() theirs=() loopback=() i
    for ((i = 0; i < RUNS; i++)); do
        if ((i % 2)); then
            theirs+=("$(PORT=5321 gbps "$LAB_HOST" 127.0.0.1 "$@")"); ours+=("$(PORT=5311 gbps "$LAB_HOST" 127.0.0.1 "$@")")
        else
            ours+=("$(PORT=5311 gbps "$LAB_HOST" 127.0.0.1 "$@")"); theirs+=("$(PORT=5321 gbps "$LAB_HOST" 127.0.0.1 "$@")")
        fi
        loopback+=("$(gbps "$LAB_HOST" 127.0.0.1 "$@")")
    done
    local o t l; o=$(median "${ours[@]}"); t=$(median "${theirs[@]}"); l=$(median "${loopback[@]}")
    printf '%-44s %-22s %-22s %-7s %s\n' "$label" "$(stats "${ours[@]}")" "$(stats "${theirs[@]}")" "$(ratio_of "$o" "$t")" \
        "loopback $(stats "${loopback[@]}"); ours/loopback $(ratio_of "$o" "$l")"
}
splice_row "TCP splice host->ns Gbps (-t, from 127.0.0.1)"
splice_row "TCP splice ns->host Gbps (-t, -R)" -R
splice_row "TCP splice host->ns Gbps, 4 streams (-P 4)" -P 4

# UDP: iperf3 -u -l 1400 namespace -> host, 4 MiB socket buffers at both ends (-w) so the iperf3
# receiver itself does not drop. Unthrottled (-b 0): what arrives, in Gbps; at -b 1G: % lost. With -R
# (REVERSE=1) the host sends: replies on the namespace's flow, through the tap.
udp_run() {  # NS SERVER RATE -> "received_gbps lost_percent"
    ip netns exec "$1" iperf3 -c "$2" -p "${PORT:-5201}" -u -l 1400 -w 4M -b "$3" -t "$SECONDS_PER_RUN" \
        ${REVERSE:+-R} -J 2>/dev/null |
        jq -r '(.end.sum.bits_per_second // 0) as $b | (.end.sum.lost_percent // 100) as $l |
               "\($b * (1 - $l / 100) / 1e9) \($l)"' 2>/dev/null || echo "0 100"
}
udp_rows() {
    local ours=() theirs=() veth=() busy=() ours_loss=() theirs_loss=() i out
    for ((i = 0; i < RUNS; i++)); do
        out=$(udp_run "$LAB_ID-ours-65520" 198.51.100.1 0); ours+=("${out% *}")
        out=$(udp_run "$LAB_ID-theirs-65520" 198.51.100.1 0); theirs+=("${out% *}")
        out=$(udp_run "$VA" 192.0.2.2 0); veth+=("${out% *}")
        start_spinner; out=$(udp_run "$VA" 192.0.2.2 0); stop_spinner; busy+=("${out% *}")
        out=$(udp_run "$LAB_ID-ours-65520" 198.51.100.1 1G); ours_loss+=("${out#* }")
        out=$(udp_run "$LAB_ID-theirs-65520" 198.51.100.1 1G); theirs_loss+=("${out#* }")
    done
    local ratio; ratio=$(awk -v a="$(median "${ours[@]}")" -v b="$(median "${theirs[@]}")" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    printf '%-44s %-22s %-22s %-7s %s\n' "UDP ns->host received Gbps, -b 0 -l 1400" \
        "$(stats "${ours[@]}")" "$(stats "${theirs[@]}")" "$ratio" \
        "veth $(stats "${veth[@]}"); beside a busy loop $(stats "${busy[@]}")"
    printf '%-44s %-22s %-22s\n' "UDP ns->host % lost at -b 1G -l 1400" "$(stats "${ours_loss[@]}")" "$(stats "${theirs_loss[@]}")"
}
udp_rows
udp_reverse_row() {
    local ours=() theirs=() veth=() busy=() i out
    for ((i = 0; i < RUNS; i++)); do
        out=$(REVERSE=1 udp_run "$LAB_ID-ours-65520" 198.51.100.1 0); ours+=("${out% *}")
        out=$(REVERSE=1 udp_run "$LAB_ID-theirs-65520" 198.51.100.1 0); theirs+=("${out% *}")
        out=$(REVERSE=1 udp_run "$VA" 192.0.2.2 0); veth+=("${out% *}")
        start_spinner; out=$(REVERSE=1 udp_run "$VA" 192.0.2.2 0); stop_spinner; busy+=("${out% *}")
    done
    local ratio; ratio=$(awk -v a="$(median "${ours[@]}")" -v b="$(median "${theirs[@]}")" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    printf '%-44s %-22s %-22s %-7s %s\n' "UDP host->ns received Gbps, -b 0 -l 1400 (-R)" \
        "$(stats "${ours[@]}")" "$(stats "${theirs[@]}")" "$ratio" \
        "veth $(stats "${veth[@]}"); beside a busy loop $(stats "${busy[@]}")"
}
udp_reverse_row
udp_splice_row() {
    local ours=() theirs=() loopback=() i out
    for ((i = 0; i < RUNS; i++)); do
        out=$(PORT=5311 udp_run "$LAB_HOST" 127.0.0.1 0); ours+=("${out% *}")
        out=$(PORT=5321 udp_run "$LAB_HOST" 127.0.0.1 0); theirs+=("${out% *}")
        out=$(udp_run "$LAB_HOST" 127.0.0.1 0); loopback+=("${out% *}")
    done
    local o t l; o=$(median "${ours[@]}"); t=$(median "${theirs[@]}"); l=$(median "${loopback[@]}")
    printf '%-44s %-22s %-22s %-7s %s\n' "UDP splice host->ns received Gbps, -b 0 -l 1400" "$(stats "${ours[@]}")" \
        "$(stats "${theirs[@]}")" "$(ratio_of "$o" "$t")" "loopback $(stats "${loopback[@]}"); ours/loopback $(ratio_of "$o" "$l")"
}
udp_splice_row

rr() { ip netns exec "$1" "$RR" "${MODE:-client}" "$2" "${3:-7001}" "${COUNT:-$RR_COUNT}" 2>/dev/null || echo "0 0"; }
rr_row() {  # LABEL OURS_NS OURS_SERVER OURS_PORT THEIRS_NS THEIRS_SERVER THEIRS_PORT (UPLINK=1: the lab host
            # to the same server over the uplink is the reference, instead of veth and loopback)
    local means_ours=() p99_ours=() means_theirs=() p99_theirs=() veth=() loopback=() i out
    for ((i = 0; i < RR_RUNS; i++)); do
        out=$(rr "$2" "$3" "$4"); means_ours+=("${out% *}"); p99_ours+=("${out#* }")
        out=$(rr "$5" "$6" "$7"); means_theirs+=("${out% *}"); p99_theirs+=("${out#* }")
        if [ -n "${UPLINK:-}" ]; then
            out=$(rr "$LAB_HOST" "$3" "$4"); veth+=("${out% *}")
        else
            out=$(rr "$VA" 192.0.2.2); veth+=("${out% *}")
            out=$(rr "$LAB_HOST" 127.0.0.1); loopback+=("${out% *}")
        fi
    done
    local ratio; ratio=$(ratio_of "$(median "${means_theirs[@]}")" "$(median "${means_ours[@]}")")
    local ref="veth $(median "${veth[@]}"), loopback $(median "${loopback[@]}")"
    [ -n "${UPLINK:-}" ] && ref="lab host over the uplink $(median "${veth[@]}")"
    printf '%-44s %-22s %-22s %-7s %s\n' "$1 mean us (ratio theirs/ours)" \
        "$(stats "${means_ours[@]}")" "$(stats "${means_theirs[@]}")" "$ratio" "$ref"
    printf '%-44s %-22s %-22s\n' "$1 p99 us" "$(stats "${p99_ours[@]}")" "$(stats "${p99_theirs[@]}")"
}
passt_udp_row
rr_row "TCP_RR tap" "$LAB_ID-ours-65520" 198.51.100.1 7001 "$LAB_ID-theirs-65520" 198.51.100.1 7001
UPLINK=1 rr_row "TCP_RR tap, server in the lab internet" "$LAB_ID-ours-65520" 203.0.113.10 7001 "$LAB_ID-theirs-65520" 203.0.113.10 7001
UPLINK=1 rr_row "TCP_RR passt, server in the lab internet" "$LAB_ID-ours-passt" 203.0.113.10 7001 "$LAB_ID-theirs-passt" 203.0.113.10 7001
UPLINK=1 rr_row "TCP_RR vhost-user (other column: ours stream)" "$LAB_ID-ours-vhost" 203.0.113.10 7001 "$LAB_ID-ours-passt" 203.0.113.10 7001
rr_row "TCP_RR splice" "$LAB_HOST" 127.0.0.1 7011 "$LAB_HOST" 127.0.0.1 7021
# TCP_CRR: a new connection per round trip (connect, one byte each way, close), the Podman web-server case.
MODE=crr COUNT=3000 rr_row "TCP_CRR splice" "$LAB_HOST" 127.0.0.1 7011 "$LAB_HOST" 127.0.0.1 7021
echo "(round trips: bench/tcp_rr.c, one byte each way, TCP_NODELAY; references: veth and the lab host's loopback)"
