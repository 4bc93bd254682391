# The Podman hook scenario shared by the root and rootless tests (issue #14's list): sourced once Podman
# (in_podman), the image ($IMAGE), the hook's install ($P/libexec, $P/hooks, $RUN_DIR) and the lab host's
# servers (a resolver on 127.0.0.1:53 answering 192.0.2.53, HTTP on 198.51.100.2:7180) are ready.
# $PODMAN_USER, when set, is the user Podman runs as. Section numbers are the done-when items of issue #14.

our_pastas() { for pid in $(podman_processes_using "$P/libexec/pasta"); do
    [ "$(readlink "/proc/$pid/exe")" = "$P/libexec/pasta" ] && echo "$pid"; done; }
record_pasta() { cut -d' ' -f1 "$RUN_DIR/$1.pid" 2>/dev/null; }
gone_within() {  # PID TENTHS
    lab_wait_for "$2" bash -c "! [ -e /proc/$1 ] || grep -qs '^State:.*Z' /proc/$1/status"
}
http_get() { ip netns exec "$1" curl -s --max-time 1 "$2"; }
# Polls until the page answers; passes only within $2 ms of $3 (a start time).
page_within() {
    local url="$1" limit="$2" started="$3" body
    while [ $(( $(now_ms) - started )) -lt "$limit" ]; do
        body=$(http_get "$LAB_HOST" "$url")
        [ "$body" = "hello from the container" ] && return 0
        sleep 0.05
    done
    return 1
}

echo "1. podman run -d --network none --annotation io.containers.pasta.ports=18080:80 ... httpd"
started=$(now_ms)
CID=$(in_podman run -d --name web --network none --annotation io.containers.pasta.ports=18080:80 \
      "$IMAGE" httpd -f -p 80 -h /www 2>"$P/run.err")
rc=$?; returned=$(now_ms)
check "podman run succeeds (rc=$rc, $((returned - started)) ms) $(head -c 300 "$P/run.err")" [ "$rc" -eq 0 ]
check "GET http://127.0.0.1:18080/ on the lab host returns the page within 2 s of podman run returning" \
    page_within http://127.0.0.1:18080/ 2000 "$returned"
check "GET http://[::1]:18080/ (an IPv6 client) returns the page" \
    eval '[ "$(http_get "$LAB_HOST" "http://[::1]:18080/")" = "hello from the container" ]'
check "GET http://198.51.100.2:18080/ from the lab internet returns the page (through the tap)" \
    eval '[ "$(http_get "$LAB_INET" http://198.51.100.2:18080/)" = "hello from the container" ]'
addresses=$(in_podman exec web ip -o addr show 2>&1)
check "the container sees the uplink's 198.51.100.2/24 and 2001:db8:1::2/64" \
    eval 'grep -q "inet 198.51.100.2/24" <<<"$addresses" && grep -q "inet6 2001:db8:1::2/64" <<<"$addresses"'
check "and a default route via the uplink's gateway 198.51.100.1" \
    eval 'in_podman exec web ip route | grep -q "default via 198.51.100.1"'
PASTA1=$(record_pasta "$CID")
CTR_PID=$(in_podman inspect -f '{{.State.Pid}}' web)
if [ -n "${PODMAN_USER:-}" ]; then
    # By the UID in its status: /proc/PID of a sandboxed (non-dumpable) pasta belongs to root.
    check "pasta runs as $PODMAN_USER, like the container" \
        eval '[ -n "$PASTA1" ] && [ "$(awk "/^Uid:/ {print \$2}" "/proc/$PASTA1/status")" = "$(id -u "$PODMAN_USER")" ] &&
              [ "$(stat -c %U "/proc/$CTR_PID")" = "$PODMAN_USER" ]'
fi
check "the run directory records a running pasta ($PASTA1) for the container's network namespace" \
    eval '[ -n "$PASTA1" ] && lab_alive "$PASTA1" && tr "\0" " " < /proc/$PASTA1/cmdline | grep -q -- "--netns /proc/$CTR_PID/ns/net"'
has_arguments() {  # PID ARGUMENT...: the process's command line holds each (space-joined) argument
    local pid="$1" line argument; shift
    [ -n "$pid" ] && line=$(tr "\0" " " < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    for argument in "$@"; do grep -q -- " $argument " <<<" $line " || return 1; done
}
check "with Podman's defaults: --dns-forward 169.254.1.1 --map-guest-addr 169.254.1.2 -T none -U none --no-map-gw --quiet" \
    has_arguments "$PASTA1" "-t 18080:80" "-u none" "--dns-forward 169.254.1.1" "--map-guest-addr 169.254.1.2" \
    "-T none" "-U none" "--no-map-gw" "--quiet"

echo "3. host.containers.internal and DNS from inside the container"
# Podman 4 writes the host's own address, which the container has too (pasta copies it): the hook
# points the name at 169.254.1.2.
check "/etc/hosts names host.containers.internal once, as 169.254.1.2" \
    eval '[ "$(in_podman exec web grep host.containers.internal /etc/hosts | tr -s " \t" " ")" = "169.254.1.2 host.containers.internal" ]'
check "/etc/resolv.conf names 169.254.1.1 only" \
    eval '[ "$(in_podman exec web grep nameserver /etc/resolv.conf)" = "nameserver 169.254.1.1" ]'
# busybox-static's wget crashes with -T: the time limit comes from its timeout applet instead.
check "wget http://host.containers.internal:7180/ reaches the server on the lab host's 198.51.100.2" \
    eval '[ "$(in_podman exec web busybox timeout 10 wget -qO- http://host.containers.internal:7180/hello.txt)" = "hello from the lab host" ]'
lookup=$(in_podman exec web nslookup test.lab 2>&1)
check "nslookup test.lab asks 169.254.1.1 and gets the lab resolver's 192.0.2.53" \
    eval 'grep -q "169.254.1.1" <<<"$lookup" && grep -q "Address: 192.0.2.53" <<<"$lookup"'

echo "1. podman stop, podman start"
in_podman stop -t 0 web >/dev/null 2>&1
stopped=$(now_ms)
gone_within "$PASTA1" 20; ended=$(now_ms)
check "after podman stop our pasta is gone ($((ended - stopped)) ms after stop returned)" eval '! lab_alive "$PASTA1"'
check "and its record with it" [ ! -e "$RUN_DIR/$CID.pid" ]
check "GET on 18080 fails while the container is stopped" eval '! http_get "$LAB_HOST" http://127.0.0.1:18080/ >/dev/null'
started=$(now_ms)
in_podman start web >/dev/null 2>"$P/start.err"; rc=$?; returned=$(now_ms)
check "podman start succeeds (rc=$rc) $(head -c 300 "$P/start.err")" [ "$rc" -eq 0 ]
check "the page is back within 2 s of podman start returning" page_within http://127.0.0.1:18080/ 2000 "$returned"
PASTA2=$(record_pasta "$CID")
check "served by a new pasta ($PASTA2)" eval '[ -n "$PASTA2" ] && [ "$PASTA2" != "$PASTA1" ] && lab_alive "$PASTA2"'
# A poststop that comes after the new start (conmon's cleanup of the old run, late) must spare it.
echo "{\"ociVersion\":\"1.0.2\",\"id\":\"$CID\",\"status\":\"stopped\",\"bundle\":\"/nonexistent\"}" |
    "$P/libexec/podman-netplugin" --run-dir "$RUN_DIR" poststop
rc=$?
check "a late poststop for the container (rc=$rc) leaves the new pasta and its record alone" \
    eval '[ "$rc" -eq 0 ] && lab_alive "$PASTA2" && [ "$(record_pasta "$CID")" = "$PASTA2" ] &&
          [ "$(http_get "$LAB_HOST" http://127.0.0.1:18080/)" = "hello from the container" ]'
check "/etc/hosts still names host.containers.internal once" \
    eval '[ "$(in_podman exec web grep -c host.containers.internal /etc/hosts)" = 1 ]'

echo "2. UDP, and a mapping bound to one host address"
CID2=$(in_podman run -d --name multi --network none \
       --annotation 'io.containers.pasta.ports=127.0.0.1:18081:80;5353:53/udp' "$IMAGE" httpd -f -p 80 -h /www 2>"$P/run2.err")
rc=$?
check "podman run with '127.0.0.1:18081:80;5353:53/udp' succeeds (rc=$rc) $(head -c 300 "$P/run2.err")" [ "$rc" -eq 0 ]
CTR2_PID=$(in_podman inspect -f '{{.State.Pid}}' multi)
nsenter -t "$CTR2_PID" -n python3 "$TOOL" udp-echo-server 53 >/dev/null 2>&1 &
lab_track_pid $!
lab_wait_for 50 bash -c "nsenter -t $CTR2_PID -n ss -Hlun 'sport = :53' | grep -q ."
check "GET http://127.0.0.1:18081/ returns the page" page_within http://127.0.0.1:18081/ 2000 "$(now_ms)"
check "18081 listens on 127.0.0.1 only (ss: $(ip netns exec "$LAB_HOST" ss -Hltn 'sport = :18081' | awk '{print $4}' | tr '\n' ' '))" \
    eval '[ "$(ip netns exec "$LAB_HOST" ss -Hltn "sport = :18081" | awk "{print \$4}")" = "127.0.0.1:18081" ]'
check "GET http://198.51.100.2:18081/ is refused" eval '! http_get "$LAB_HOST" http://198.51.100.2:18081/ >/dev/null'
check "UDP 5353 from the lab internet reaches the container's port 53 and comes back" \
    eval '[ "$(ip netns exec "$LAB_INET" python3 "$TOOL" udp-ask 198.51.100.2 5353 hi4)" = "hi4 198.51.100.2" ]'
check "UDP 5353 from the lab host's 127.0.0.1 too" \
    eval '[ "$(ip netns exec "$LAB_HOST" python3 "$TOOL" udp-ask 127.0.0.1 5353 hi-lo)" = "hi-lo 127.0.0.1" ]'
check "UDP 5353 from an IPv6 client in the lab internet" \
    eval '[ "$(ip netns exec "$LAB_INET" python3 "$TOOL" udp-ask 2001:db8:1::2 5353 hi6)" = "hi6 2001:db8:1::2" ]'

echo "2. a second container in the first's network namespace (--network container:multi) with a mapping"
pastas_before=$(our_pastas | wc -w)
in_podman run -d --name joiner --network container:multi --annotation io.containers.pasta.ports=18082:80 \
    "$IMAGE" httpd -f -p 8080 -h /www >/dev/null 2>"$P/joiner.err"
rc=$?
check "podman run fails (rc=$rc)" [ "$rc" -ne 0 ]
check "with our message: $(grep -o 'podman-netplugin: [^"]*' "$P/joiner.err" | head -n 1 | head -c 240)" \
    grep -Eq "podman-netplugin: [0-9a-f]{12}: .*network namespace of container ${CID2:0:12}.*already serves" "$P/joiner.err"
check "no second pasta was started, and no record for it ($(ls "$RUN_DIR" | wc -l) records)" \
    eval '[ "$(our_pastas | wc -w)" = "$pastas_before" ] && [ "$(ls "$RUN_DIR" | wc -l)" = 2 ]'
check "multi's mapping still serves its page" page_within http://127.0.0.1:18081/ 2000 "$(now_ms)"
in_podman rm -f -t 0 joiner >/dev/null 2>&1

echo "1. podman rm -f"
PASTA3=$(record_pasta "$CID2")
for name in web multi; do
    pasta=$([ "$name" = web ] && echo "$PASTA2" || echo "$PASTA3")
    started=$(now_ms)
    in_podman rm -f -t 0 "$name" >/dev/null 2>&1
    gone_within "$pasta" 20; ended=$(now_ms)
    check "podman rm -f $name: its pasta ($pasta) exits within 2 s ($((ended - started)) ms from the start of rm)" \
        eval '[ -n "$pasta" ] && ! lab_alive "$pasta" && [ $((ended - started)) -lt 2000 ]'
done

echo "1. an empty io.containers.pasta.options= alone: the network without published ports"
CID3=$(in_podman run -d --name plain --network none --annotation io.containers.pasta.options= \
       "$IMAGE" httpd -f -p 80 -h /www 2>"$P/run3.err")
rc=$?
check "podman run succeeds (rc=$rc) $(head -c 300 "$P/run3.err")" [ "$rc" -eq 0 ]
check "the container has the uplink's 198.51.100.2/24" \
    eval 'in_podman exec plain ip -o addr show | grep -q "inet 198.51.100.2/24"'
check "its pasta forwards nothing: -t none -u none" has_arguments "$(record_pasta "$CID3")" "-t none" "-u none"
in_podman rm -f -t 0 plain >/dev/null 2>&1
check "no record is left in the run directory" eval '[ -z "$(ls -A "$RUN_DIR")" ]'
check "no pasta of ours runs" eval '[ -z "$(our_pastas)" ]'

echo "4. bad annotations and a busy port fail podman run with the hook's message"
refused() {  # NAME PATTERN PODMAN-RUN-OPTIONS...: podman run fails, stderr matches, nothing is left running
    local name="$1" pattern="$2"; shift 2
    local rc
    in_podman run -d --name "$name" "$@" "$IMAGE" httpd -f -p 80 -h /www >/dev/null 2>"$P/$name.err"
    rc=$?
    check "$name: podman run fails (rc=$rc)" [ "$rc" -ne 0 ]
    check "$name: with our message: $(grep -o 'podman-netplugin: [^"]*' "$P/$name.err" | head -n 1 | head -c 240)" \
        grep -Eq "podman-netplugin: [0-9a-f]{12}: .*$pattern" "$P/$name.err"
    check "$name: no pasta of ours runs, no record is left" \
        eval '[ -z "$(our_pastas)" ] && [ -z "$(ls -A "$RUN_DIR")" ]'
    in_podman rm -f -t 0 "$name" >/dev/null 2>&1
}
refused bad-port "'abc' is not a port number" --network none --annotation io.containers.pasta.ports=18080:abc
refused bad-option "unrecognized option '--bogus'" --network none --annotation io.containers.pasta.ports=18080:80 \
    --annotation 'io.containers.pasta.options=--bogus'
links_before=$(ip -n "$LAB_HOST" -o link show | wc -l)
refused host-network "the container shares the host's network namespace" --annotation io.containers.pasta.ports=18089:80 \
    --network host
check "host-network: the lab host's links are as before (no tap added)" \
    eval '[ "$(ip -n "$LAB_HOST" -o link show | wc -l)" = "$links_before" ]'
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 0.0.0.0 18090
lab_wait_for 50 lab_listening "$LAB_HOST" 18090
refused busy-port "port 18090.*Address already in use" --network none --annotation io.containers.pasta.ports=18090:80
check "the container of a failed run is not left running" \
    eval '[ -z "$(in_podman ps -q)" ]'

