#!/usr/bin/env bash
# Podman containers networked by our pasta through the OCI hook (podman-netplugin), as root: Debian's
# Podman 4.3.1 with runc, `--network none` and the io.containers.pasta.ports annotation. Published TCP
# (IPv4 and IPv6 clients), UDP and host-address mappings, the uplink's addresses in the container,
# host.containers.internal and DNS through 169.254.1.1, stop/start and rm -f, and bad annotations or a
# busy port failing `podman run` with the hook's message and nothing left running. Podman's storage and
# configuration live in a directory of the test's own; the image is busybox-static, imported from a tarball.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
source "$here/podman/podman-env.sh"
TOOL="$here/tcp_tool.py"
PLUGIN_BUILD=$(dirname "$PASTA")
IMAGE=localhost/pasta-test:busybox

[ -x "$PLUGIN_BUILD/podman-netplugin" ] || { fail "$PLUGIN_BUILD/podman-netplugin is not built"; finish; exit 1; }
needs python3 curl jq podman runc
needs_debs busybox-static
BUSYBOX_DEB=$(deps_cached_deb busybox-static)
echo "$(podman --version), runc $(runc --version | awk 'NR == 1 { print $3 }')"

P=$(mktemp -d /tmp/pasta-podman.XXXXXX)
RUN_DIR="$P/netplugin-run"
VARLIB_MADE=0
[ -e /var/lib/containers ] || { mkdir -p /var/lib/containers && VARLIB_MADE=1; }

podman_cleanup() {
    local pid
    if [ -n "${PODMAN_DIR:-}" ] && [ -d "$PODMAN_DIR/graph" ]; then
        in_podman rm -af -t 0 >/dev/null 2>&1
    fi
    # Whatever still runs from this test's directory (conmon, a pasta, a hook) goes by its PID.
    for pid in $(podman_processes_using "$P"); do kill -KILL "$pid" 2>/dev/null; done
    lab_cleanup
    rm -rf "$P"
    [ "$VARLIB_MADE" = 1 ] && rm -rf /var/lib/containers
}
lab_begin
trap podman_cleanup EXIT
trap 'exit 1' TERM INT

bash "$here/../contrib/podman/install.sh" --build "$PLUGIN_BUILD" --libexec "$P/libexec" \
    --hooks-dir "$P/hooks" --run-dir "$RUN_DIR" >/dev/null
podman_env_setup "$P/podman" "$P/hooks"
check "contrib/podman/install.sh put the hook and pasta where its hooks.d files point" \
    eval '[ "$(jq -r .hook.path "$P/hooks/podman-netplugin-start.json")" = "$P/libexec/podman-netplugin" ] &&
          [ -x "$P/libexec/podman-netplugin" ] && [ -x "$P/libexec/pasta" ] &&
          [ "$(jq -c .hook.args "$P/hooks/podman-netplugin-stop.json")" = "[\"podman-netplugin\",\"--run-dir\",\"$RUN_DIR\",\"poststop\"]" ]'
check "a busybox-static image is imported" podman_build_image "$BUSYBOX_DEB" "$IMAGE"

# The lab host: a resolver on its loopback (its resolv.conf names 127.0.0.1) and an HTTP server on its
# global address, for host.containers.internal.
mkdir -p "$P/hostwww"; echo "hello from the lab host" > "$P/hostwww/hello.txt"
lab_serve "$LAB_HOST" python3 "$TOOL" dns-server 127.0.0.1 53 192.0.2.53
lab_serve "$LAB_HOST" python3 -m http.server --bind 198.51.100.2 --directory "$P/hostwww" 7180
lab_wait_for 50 lab_listening "$LAB_HOST" 7180

source "$here/podman/scenario.sh"

echo "5. this run's own clean-up"
podman_cleanup
trap - EXIT
check "no process from the test's directory runs (conmon, pasta, hook)" eval '[ -z "$(podman_processes_using "$P")" ]'
check "the test's Podman directory and the lab namespaces are gone" \
    eval '[ ! -e "$P" ] && ! ip netns list | grep -q "^${LAB_ID}-"'
check "/var/lib/containers is as before" eval '[ "$VARLIB_MADE" = 0 ] || [ ! -e /var/lib/containers ]'
finish
