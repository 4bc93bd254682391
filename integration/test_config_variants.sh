#!/usr/bin/env bash
# --config-net variants: -4, -I, -m, --ns-mac-addr; -a/-g instead of copying; local mode without an
# uplink; -l log file.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs jq
lab_begin
DIR=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$DIR"
NONE="-t none -u none -T none -U none"

run_pasta() {  # run_pasta NAMESPACE_TO_RUN_IN ARGS...: starts a daemon, tracks it
    local where="$1"; shift
    rm -f "$DIR/pid"
    lab_in "$where" "$PASTA" -P "$DIR/pid" "$@" 2>"$DIR/err"
    local rc=$?
    [ -s "$DIR/pid" ] && lab_track_pid "$(cat "$DIR/pid")"
    return $rc
}

lab_add_ns "$CTR"
check "-4 -I ctr0 -m 1500 --ns-mac-addr starts" \
    run_pasta "$LAB_HOST" --config-net -q $NONE -4 -I ctr0 -m 1500 --ns-mac-addr 02:aa:bb:cc:dd:ee --netns "$CTR"
link=$(ip -n "$CTR" -j addr show dev ctr0 2>/dev/null)
check "tap is named ctr0" json_has "$link" '.[0] | select(.ifname=="ctr0")'
check "MTU 1500" [ "$(jq '.[0].mtu' <<<"$link")" = 1500 ]
check "MAC 02:aa:bb:cc:dd:ee" [ "$(jq -r '.[0].address' <<<"$link")" = 02:aa:bb:cc:dd:ee ]
check "IPv4 address copied" json_has "$link" '.[0].addr_info[] | select(.local=="198.51.100.2")'
check "-4: no global IPv6 address" bash -c "! jq -e '.[0].addr_info[] | select(.local==\"2001:db8:1::2\")' <<<'$link' >/dev/null"
ip netns del "$CTR"

lab_add_ns "$CTR"
check "-a 198.51.100.77 -g 198.51.100.1 starts" \
    run_pasta "$LAB_HOST" --config-net -q $NONE -a 198.51.100.77 -g 198.51.100.1 --netns "$CTR"
link=$(ip -n "$CTR" -j addr show dev eth0)
check "-a: only 198.51.100.77/24" bash -c "[ \"\$(jq -c '[.[0].addr_info[] | select(.family==\"inet\") | .local]' <<<'$link')\" = '[\"198.51.100.77\"]' ]"
check "-g: default route via 198.51.100.1" json_has "$(ip -n "$CTR" -j route)" '.[] | select(.dst=="default" and .gateway=="198.51.100.1")'
ip netns del "$CTR"

# A lab host with no uplink at all: local mode instead of failing.
ISOLATED="${LAB_ID}-iso"
lab_add_ns "$ISOLATED"
lab_add_ns "$CTR"
check "without a routable interface pasta still starts" run_pasta "$ISOLATED" --config-net $NONE --netns "$CTR"
check "and says it runs in local mode" grep -q "local mode" "$DIR/err"
link=$(ip -n "$CTR" -j addr show dev tap0 2>/dev/null)
check "tap0 has 169.254.2.1/16" json_has "$link" '.[0].addr_info[] | select(.local=="169.254.2.1" and .prefixlen==16)'
check "default route via 169.254.2.2" json_has "$(ip -n "$CTR" -j route)" '.[] | select(.dst=="default" and .gateway=="169.254.2.2")'
check "IPv6 default route via fe80::1" json_has "$(ip -n "$CTR" -j -6 route)" '.[] | select(.dst=="default" and .gateway=="fe80::1")'
ip netns del "$CTR"

lab_add_ns "$CTR"
check "-d -l FILE starts" run_pasta "$LAB_HOST" --config-net -d -l "$DIR/log" --log-size 4096 $NONE --netns "$CTR"
check "the log file has the summary" grep -q "Outbound interface: eth0" "$DIR/log"
check "and nothing went to stderr" [ ! -s "$DIR/err" ]
pid=$(cat "$DIR/pid")
ip netns del "$CTR"
lab_wait_for 20 bash -c "! [ -e /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
check "the daemon logged its exit to the file" lab_wait_for 10 grep -q "namespace is gone" "$DIR/log"
check "the log stays within --log-size" [ "$(stat -c %s "$DIR/log")" -le 4096 ]
finish
