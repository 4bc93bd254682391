# Podman's own `--network slirp4netns` on our slirp4netns drop-in (issue #16's list), shared by the root and
# rootless tests: sourced once Podman (in_podman, with network_cmd_path pointing at $SLIRP), the image
# ($IMAGE) and the lab's servers (a resolver on the lab host's 127.0.0.1:53 answering 192.0.2.53, HTTP on
# 203.0.113.10:7180 in the lab internet) are ready. $PODMAN_USER, when set, is the user Podman runs as.

# Our slirp4netns processes: their executable is our pasta, started under the link's name.
our_slirps() { for pid in $(podman_processes_using "$SLIRP"); do
    [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$SLIRP")" ] && echo "$pid"; done; }
gone_within() {  # PID TENTHS
    lab_wait_for "$2" bash -c "! [ -e /proc/$1 ] || grep -qs '^State:.*Z' /proc/$1/status"
}
http_get() { ip netns exec "$1" curl -s --max-time 1 "$2"; }
page_within() {  # URL MS: the page answers within MS
    local url="$1" limit="$2" started; started=$(now_ms)
    while [ $(( $(now_ms) - started )) -lt "$limit" ]; do
        [ "$(http_get "$LAB_HOST" "$url")" = "hello from the container" ] && return 0
        sleep 0.1
    done
    return 1
}

for handler in rootlessport slirp4netns; do
    port=$([ $handler = rootlessport ] && echo 18087 || echo 18088)
    network=$([ $handler = rootlessport ] && echo slirp4netns || echo slirp4netns:port_handler=slirp4netns)
    echo "1. podman run -d --network $network -p $port:80 ... httpd (port handler $handler)"
    in_podman run -d --name "web-$handler" --network "$network" -p "$port:80" "$IMAGE" httpd -f -vv -p 80 -h /www \
        >"$P/run-$handler.out" 2>"$P/run-$handler.err"
    rc=$?
    check "podman run succeeds (rc=$rc) $(head -c 300 "$P/run-$handler.err")" [ "$rc" -eq 0 ]
    slirp=$(our_slirps | head -n 1)
    cmdline=$([ -n "$slirp" ] && tr "\0" " " < "/proc/$slirp/cmdline")
    echo "    $cmdline"
    check "our slirp4netns serves it ($slirp), started the way Podman starts slirp4netns" \
        eval '[ -n "$slirp" ] && grep -Eq -- "-c (-e 3 -r 4|-r 3 -e 4) .*--netns-type=path .* tap0" <<<"$cmdline"'
    if [ -n "${PODMAN_USER:-}" ]; then
        # By the UID in its status: /proc/PID of a sandboxed (non-dumpable) process belongs to root.
        check "... as $PODMAN_USER" eval '[ "$(awk "/^Uid:/ {print \$2}" "/proc/$slirp/status")" = "$(id -u "$PODMAN_USER")" ]'
    fi
    check "GET http://198.51.100.2:$port/ on the lab host returns the page" page_within "http://198.51.100.2:$port/" 5000
    check "GET http://127.0.0.1:$port/ too" page_within "http://127.0.0.1:$port/" 2000
    if [ $handler = slirp4netns ]; then
        http_get "$LAB_INET" "http://198.51.100.2:$port/" >/dev/null
        sleep 0.3
        in_podman logs "web-$handler" >"$P/httpd-$handler.log" 2>&1
        check "from the lab internet too, and httpd saw the client's own address 198.51.100.1" \
            grep -q "198.51.100.1" "$P/httpd-$handler.log"
    fi
    addresses=$(in_podman exec "web-$handler" ip -o addr show 2>&1)
    check "the container has tap0 with 10.0.2.100/24" grep -q "tap0 .*inet 10.0.2.100/24" <<<"$addresses"
    # busybox-static's wget crashes with -T: the time limit comes from its timeout applet instead.
    check "it reaches the lab internet (wget http://203.0.113.10:7180/)" \
        eval '[ "$(in_podman exec "web-$handler" busybox timeout 10 wget -qO- http://203.0.113.10:7180/hello.txt)" = "hello from the lab internet" ]'
    lookup=$(in_podman exec "web-$handler" nslookup test.lab 2>&1)
    check "it resolves through 10.0.2.3 (the lab resolver's 192.0.2.53)" \
        eval 'grep -q "10.0.2.3" <<<"$lookup" && grep -q "Address: 192.0.2.53" <<<"$lookup"'
    started=$(now_ms)
    in_podman rm -f -t 0 "web-$handler" >/dev/null 2>&1
    gone_within "$slirp" 20; ended=$(now_ms)
    check "podman rm -f stops our process within 2 s ($((ended - started)) ms from the start of rm)" \
        eval '[ -n "$slirp" ] && ! lab_alive "$slirp" && [ $((ended - started)) -lt 2000 ]'
done
check "none of our processes is left" eval '[ -z "$(our_slirps)" ]'
