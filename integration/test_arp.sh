#!/usr/bin/env bash
# ARP proxy: the namespace resolves the gateway (and any other address) to our MAC, which defaults to the
# template interface's MAC; the exchange shows up in the pcap.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs jq tcpdump ping
lab_begin with-container
PCAP=$(mktemp -u /tmp/pasta-test.XXXXXX.pcap); lab_track_file "$PCAP"

check "pasta starts" lab_start_pasta --config-net -q -t none -u none -T none -U none -p "$PCAP" --netns "$CTR"
lab_in "$CTR" ping -c 1 -W 1 198.51.100.1 >/dev/null 2>&1
lab_in "$CTR" ping -c 1 -W 1 198.51.100.77 >/dev/null 2>&1
neigh=$(ip -n "$CTR" -j neigh show dev eth0)
check "the gateway resolves to our MAC (the uplink's, 02:00:00:00:00:02)" \
    json_has "$neigh" '.[] | select(.dst=="198.51.100.1" and .lladdr=="02:00:00:00:00:02")'
check "another on-link address resolves to our MAC too" \
    json_has "$neigh" '.[] | select(.dst=="198.51.100.77" and .lladdr=="02:00:00:00:00:02")'
check "the reply is in the capture" grep -q "ARP, Reply 198.51.100.1 is-at 02:00:00:00:00:02" <<<"$(tcpdump -n -r "$PCAP" 2>/dev/null)"
finish
