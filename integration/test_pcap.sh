#!/usr/bin/env bash
# Done-when 5: -p FILE captures namespace-side frames that tcpdump decodes.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs tcpdump ping
lab_begin with-container
PCAP=$(mktemp -u /tmp/pasta-test.XXXXXX.pcap); lab_track_file "$PCAP"

check "pasta starts" lab_start_pasta --config-net -q -t none -u none -T none -U none -p "$PCAP" --netns "$CTR"
lab_in "$CTR" ping -c 2 -W 1 198.51.100.1 >/dev/null 2>&1
decoded=$(tcpdump -n -r "$PCAP" 2>/dev/null)
check "tcpdump decodes the capture" [ -n "$decoded" ]
check "an ARP request or ICMP echo for the gateway is in it" \
    grep -Eq "ARP, Request who-has 198.51.100.1|198.51.100.2 > 198.51.100.1: ICMP echo request" <<<"$decoded"
finish
