#!/usr/bin/env bash
# Done-when 3: a process in its own netns (unshare -n sleep 3) is targeted by /proc/PID/ns/net and by
# its bare PID; pasta configures it and exits within 2 s after the process ends.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs jq
lab_begin

target_test() {
    local how="$1"
    local pidfile; pidfile=$(mktemp -u /tmp/pasta-test.XXXXXX.pid); lab_track_file "$pidfile"
    # exec keeps the PID: ip netns exec and unshare both exec, so $! is the sleep itself.
    ip netns exec "$LAB_HOST" unshare -n sleep 3 &
    local sleeper=$!
    lab_track_pid "$sleeper"
    lab_wait_for 20 bash -c "[ \"\$(readlink /proc/$sleeper/exe)\" = \"\$(readlink -f \$(command -v sleep))\" ]"
    local target
    if [ "$how" = path ]; then target=(--netns "/proc/$sleeper/ns/net"); else target=("$sleeper"); fi
    lab_in "$LAB_HOST" "$PASTA" --config-net -q -t none -u none -T none -U none -P "$pidfile" "${target[@]}"
    check "[$how] pasta starts (rc=$?)" [ -s "$pidfile" ]
    local pasta; pasta=$(cat "$pidfile")
    lab_track_pid "$pasta"
    check "[$how] the process's namespace got 198.51.100.2/24" \
        json_has "$(nsenter -t "$sleeper" -n ip -j addr show dev eth0)" '.[0].addr_info[] | select(.local=="198.51.100.2")'
    check "[$how] and a default route" \
        json_has "$(nsenter -t "$sleeper" -n ip -j route)" '.[] | select(.dst=="default" and .gateway=="198.51.100.1")'
    wait "$sleeper"
    local ended; ended=$(now_ms)
    lab_wait_for 30 bash -c "! [ -e /proc/$pasta ] || grep -q '^State:.*Z' /proc/$pasta/status"
    local elapsed=$(( $(now_ms) - ended ))
    check "[$how] pasta exits within 2 s after the process ends (${elapsed} ms)" [ "$elapsed" -lt 2000 ]
}

target_test path
target_test pid
finish
