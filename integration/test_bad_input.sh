#!/usr/bin/env bash
# Done-when 6: bad input exits 1 with a message naming the problem, starts nothing, leaves no PID file.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs python3
lab_begin with-container
PIDFILE=$(mktemp -u /tmp/pasta-test.XXXXXX.pid); lab_track_file "$PIDFILE"
T="--netns $CTR"

# Each row: expected stderr pattern (extended regex) | arguments (word-split; TARGET is --netns CTR;
# PASST first runs the binary under the name passt).
CASES=$(cat <<'ROWS'
unrecognized option '--foo'|--foo TARGET
invalid option -- 'z'|-z TARGET
invalid port '0'|-t 0 TARGET
invalid port '70000'|-t 70000 TARGET
range 80-70 is reversed|-t 80-70 TARGET
differs in length|-t 22-80:32-33 TARGET
invalid port 'abc'|-u abc TARGET
invalid address '192.0.2.300'|-t 192.0.2.300/22 TARGET
invalid interface name|-T %/22 TARGET
can't be combined|-t none -t 80 TARGET
port 22 is listed twice|-U 22,20-30 TARGET
too many ':'|-t 1:2:3 TARGET
'auto' is only valid for pasta|PASST -t auto
-m value '70000'|-m 70000 TARGET
-m value '12'|-m 12 TARGET
--mtu value 'abc'|--mtu abc TARGET
-a value 'notanaddress'|-a notanaddress TARGET
not a usable unicast address|-a 127.0.0.1 TARGET
IPv4 address was already given|-a 192.0.2.1 -a 192.0.2.2 TARGET
-n value '255.0.255.0'|-a 192.0.2.1 -n 255.0.255.0 TARGET
--netmask needs an IPv4 address|-n 24 TARGET
-M value 'zz:00:00:00:00:01'|-M zz:00:00:00:00:01 TARGET
not a unicast MAC address|--ns-mac-addr ff:ff:ff:ff:ff:ff TARGET
-g value 'bogus'|-g bogus TARGET
-D value 'bogus'|-D bogus TARGET
--dns-forward value 'bogus'|--dns-forward bogus TARGET
not a valid domain name|-S bad..domain TARGET
can't be combined|-4 -6 TARGET
/nonexistent: No such file or directory|--netns /nonexistent
no process with PID 2147483647|2147483647
--netns can't be given together with a PID|TARGET 1234
--log-size value '10'|--log-size 10 TARGET
host interface 'nosuchif0' does not exist|-i nosuchif0 TARGET
/etc/hostname is not a network namespace|--netns /etc/hostname
can't open PID file /nonexistent/dir/x.pid|TARGET
only valid in passt mode|--socket /tmp/x.sock TARGET
option '--mtu' requires an argument|TARGET --mtu
option requires an argument -- 't'|TARGET -t
option '--debug' doesn't allow an argument|--debug=1 TARGET
--userns and --netns-only can't be combined|--userns /proc/self/ns/user --netns-only TARGET
-I value ''|-I '' TARGET
can't open pcap file /nonexistent/dir/x.pcap|-p /nonexistent/dir/x.pcap TARGET
--runas: no user 'nosuchuser'|--runas nosuchuser TARGET
option '--no' is ambiguous|--no TARGET
invalid PID '0'|0
interface lo already exists in namespace|-I lo TARGET
'auto' forwards each port to the same port|-t auto,80:90 TARGET
can't be combined with the earlier -t auto|-t auto -t 80 TARGET
can't bind TCP port 7777 \(127.0.0.1\) in the namespace: Address already in use|-T 7777 TARGET
ROWS
)

# Holds 127.0.0.1:7777 in the namespace, so -T 7777 can't bind there.
lab_serve "$CTR" python3 "$here/tcp_tool.py" echo-server 127.0.0.1 7777
lab_wait_for 50 lab_listening "$CTR" 7777

count_pastas() {
    local n=0 exe target; target=$(readlink -f "$PASTA")
    for exe in /proc/[0-9]*/exe; do [ "$(readlink "$exe" 2>/dev/null)" = "$target" ] && n=$((n + 1)); done
    echo "$n"
}

before=$(count_pastas)
cases=0
while IFS='|' read -r pattern args; do
    [ -z "$pattern" ] && continue
    cases=$((cases + 1))
    args=${args//TARGET/$T}
    pidfile="$PIDFILE"
    case "$pattern" in *"PID file"*) pidfile=/nonexistent/dir/x.pid ;; esac
    eval "set -- $args"
    binary="$PASTA"
    if [ "${1:-}" = PASST ]; then
        shift
        mkdir -p "/tmp/$LAB_ID"; lab_track_file "/tmp/$LAB_ID"
        ln -sf "$(readlink -f "$PASTA")" "/tmp/$LAB_ID/passt"
        binary="/tmp/$LAB_ID/passt"
    fi
    err=$(lab_in "$LAB_HOST" "$binary" -P "$pidfile" "$@" 2>&1 >/dev/null </dev/null); rc=$?
    ok=1
    [ "$rc" -eq 1 ] || ok=0
    grep -Eq -- "$pattern" <<<"$err" || ok=0
    [ -e "$PIDFILE" ] && ok=0
    [ "$(count_pastas)" = "$before" ] || ok=0
    [ "$(ip -n "$CTR" -o link | wc -l)" -eq 1 ] || ok=0  # only lo: no tap was left behind
    if [ "$ok" = 1 ]; then pass "$args -> exit 1: $pattern"; else fail "$args -> rc=$rc, stderr: $err"; fi
done <<<"$CASES"
check "at least 30 bad-input cases ran ($cases)" [ "$cases" -ge 30 ]
finish
