#!/usr/bin/env bash
# Done-when 5: -p FILE captures namespace-side frames that tcpdump decodes.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
lab_begin with-container
PCAP=$(mktemp -u /tmp/pasta-test.XXXXXX.pcap); lab_track_file "$PCAP"
PIDFILE=$(mktemp -u /tmp/pasta-test.XXXXXX.pid); lab_track_file "$PIDFILE"

lab_in "$LAB_HOST" "$PASTA" --config-net -q -t none -u none -T none -U none -p "$PCAP" -P "$PIDFILE" --netns "$CTR"
pid=$(cat "$PIDFILE"); lab_track_pid "$pid"
lab_in "$CTR" ping -c 2 -W 1 198.51.100.1 >/dev/null 2>&1
decoded=$(tcpdump -n -r "$PCAP" 2>/dev/null)
check "tcpdump reads the capture" tcpdump -n -r "$PCAP" -c 1 >/dev/null 2>&1
check "an ARP request or ICMP echo for the gateway is in it" \
    grep -Eq "ARP, Request who-has 198.51.100.1|198.51.100.2 > 198.51.100.1: ICMP echo request" <<<"$decoded"
finish
