#!/usr/bin/env bash
# The log file (-l) and debug log (-d) as pasta's users read them: the file starts empty, its first line
# is `pasta VERSION: PATH (PID)` with the daemon's PID, timestamps have zero-padded milliseconds so lines
# sort by time, each flow has a line at its start and one at its end (a TCP connection through the tap
# and a spliced one, with both endpoints and the bytes each way), and --log-size keeps a flooded file
# under its limit, on the disk's file system and on tmpfs.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 curl
TOOL="$here/tcp_tool.py"
lab_begin with-container
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX)
TMPFS="$WORK/tmpfs"
cleanup() {
    lab_cleanup
    mountpoint -q "$TMPFS" && umount "$TMPFS"
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir "$TMPFS" && mount -t tmpfs -o size=8m pasta-test-log "$TMPFS" || { fail "can't mount a tmpfs for the test"; finish; exit; }
head -c 200000 /dev/urandom >"$WORK/blob"
lab_serve "$LAB_INET" python3 -m http.server -d "$WORK" --bind :: 8000
lab_serve "$CTR" python3 "$TOOL" echo-server any 9100
lab_wait_for 50 lab_listening "$LAB_INET" 8000
lab_wait_for 50 lab_listening "$CTR" 9100

echo "the log file"
LOG="$WORK/pasta.log"
printf 'A LINE FROM BEFORE\n' >"$LOG"
check "pasta starts with -d -l (the file holds a line from before)" \
    lab_start_pasta --config-net -d -l "$LOG" -t 9100 -u none -T none -U none --netns "$CTR"
check "one TCP connection through the tap: 200000 bytes downloaded" \
    eval '[ "$(lab_in "$CTR" curl -s --max-time 10 http://203.0.113.10:8000/blob | wc -c)" = 200000 ]'
check "one spliced connection: the lab host's 127.0.0.1:9100 reaches the namespace's echo server" \
    eval '[ "$(lab_in "$LAB_HOST" python3 "$TOOL" sequential 127.0.0.1 9100 1)" = "ok 1" ]'
lab_wait_for 50 grep -q "TCP splice #[0-9]* ended" "$LOG"
lab_wait_for 50 grep -q "port 8000 ended" "$LOG"
check "what the file held before is gone" eval '! grep -q "A LINE FROM BEFORE" "$LOG"'
first=$(head -n 1 "$LOG")
echo "    $first"
check "the first line is 'pasta VERSION: PATH (PID)' with the daemon's PID ($PASTA_PID)" \
    eval '[[ "$first" =~ ^pasta\ .*:\ .*\ \(${PASTA_PID}\)$ ]]'
check "every other line starts with seconds and three digits of milliseconds" \
    eval '[ -z "$(tail -n +2 "$LOG" | grep -vE "^[0-9]+\.[0-9]{3} pasta: ")" ]'
# -s: lines of the same millisecond are in the order they were written, not compared as text.
check "the lines are in time order (sort -c -s -n)" sort -c -s -n "$LOG"
grep -E "TCP( splice)?" "$LOG" | sed 's/^/    /'
check "the download's first line names both ends" \
    grep -qE "TCP: guest connects to 203\.0\.113\.10 port 8000 via 203\.0\.113\.10, from guest 198\.51\.100\.2 port [0-9]+$" "$LOG"
check "... and its last line how it ended and the bytes each way (200000 and the headers to the guest)" \
    grep -qE "TCP: guest 198\.51\.100\.2 port [0-9]+ <-> 203\.0\.113\.10 port 8000 ended, closed by both sides: [0-9]{2,3} bytes from the guest, 200[0-9]{3} to it$" "$LOG"
check "the spliced connection's first line names both ends" \
    grep -qE "TCP splice #[0-9]+: 127\.0\.0\.1 port [0-9]+ -> 198\.51\.100\.2 port 9100 in the namespace$" "$LOG"
check "... and its last line the bytes each way" grep -qE "TCP splice #[0-9]+ ended: 32 bytes from the client, 32 to it$" "$LOG"
lab_stop "$PASTA_PID"

# A flood of -d lines (UDP flows opened, 200 lines a second at most) for 7 s: some 150 KB of lines.
echo "--log-size 102400 under a flood of flow lines"
for place in "$WORK" "$TMPFS"; do
    fs=$(stat -f -c %T "$place")
    ns="$LAB_ID-flood-${fs//[^a-z0-9]/}"; lab_add_ns "$ns"
    log="$place/flood.log"
    check "pasta starts with -d -l $log --log-size 102400 ($fs)" \
        lab_start_pasta --config-net -d -l "$log" --log-size 102400 -t none -u none -T none -U none --netns "$ns"
    end=$(( $(date +%s) + 7 ))
    while [ "$(date +%s)" -lt "$end" ]; do lab_in "$ns" python3 "$TOOL" udp-send 203.0.113.10 7000 300 >/dev/null; done
    size=$(stat -c %s "$log")
    echo "    $fs: $size bytes, $(wc -l <"$log") lines"
    check "$fs: the file stays within 102400 bytes" [ "$size" -le 102400 ]
    check "$fs: the flood did fill it (more than half)" [ "$size" -gt 51200 ]
    check "$fs: the first line is still pasta's" eval '[[ "$(head -n 1 "$log")" =~ ^pasta\ .*\ \(${PASTA_PID}\)$ ]]'
    check "$fs: whole lines only, in time order" \
        eval '[ -z "$(tail -n +2 "$log" | grep -vE "^[0-9]+\.[0-9]{3} pasta: ")" ] && sort -c -s -n "$log"'
    lab_stop "$PASTA_PID"
done
finish
