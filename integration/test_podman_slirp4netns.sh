#!/usr/bin/env bash
# Podman's `--network slirp4netns`, unchanged, on our slirp4netns drop-in (network_cmd_path in
# containers.conf), as root: Debian's Podman 4.3.1 with runc and a busybox-static image in a store of the
# test's own (integration/podman/podman-env.sh). Published ports with the default rootlessport handler and
# with port_handler=slirp4netns (the client's address kept), the lab internet, DNS through 10.0.2.3, and
# `podman rm -f` ending our process.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
source "$here/podman/podman-env.sh"
TOOL="$here/tcp_tool.py"
IMAGE=localhost/pasta-test:busybox

needs python3 curl podman runc
needs_debs busybox-static
BUSYBOX_DEB=$(deps_cached_deb busybox-static)
echo "$(podman --version), runc $(runc --version | awk 'NR == 1 { print $3 }')"

P=$(mktemp -d /tmp/pasta-podman-slirp.XXXXXX)
VARLIB_MADE=0
[ -e /var/lib/containers ] || { mkdir -p /var/lib/containers && VARLIB_MADE=1; }
# Podman (as root) names its containers' namespaces /run/netns/netns-UUID and may leave them after `rm -f`.
PODMAN_NETNS_BEFORE=$(ls /run/netns 2>/dev/null)
podman_namespaces_left() { comm -13 <(sort <<<"$PODMAN_NETNS_BEFORE") <(ls /run/netns 2>/dev/null | sort) | grep '^netns-'; }
podman_cleanup() {
    local pid ns
    if [ -n "${PODMAN_DIR:-}" ] && [ -d "$PODMAN_DIR/graph" ]; then in_podman rm -af -t 0 >/dev/null 2>&1; fi
    for pid in $(podman_processes_using "$P"); do kill -KILL "$pid" 2>/dev/null; done
    for ns in $(podman_namespaces_left); do ip netns del "$ns" 2>/dev/null; done
    lab_cleanup
    rm -rf "$P" "${SHORT_TMP:-}"
    [ "$VARLIB_MADE" = 1 ] && rm -rf /var/lib/containers
}
lab_begin
trap podman_cleanup EXIT
trap 'exit 1' TERM INT

# Our pasta under the name slirp4netns, where network_cmd_path points (contrib/podman/slirp4netns.conf).
mkdir -p "$P/libexec"; cp "$PASTA" "$P/libexec/pasta"; ln -s pasta "$P/libexec/slirp4netns"
SLIRP="$P/libexec/slirp4netns"
podman_env_setup "$P/podman" "$P/hooks"
sed -i "s|^\[engine\]$|[engine]\nnetwork_cmd_path = \"$SLIRP\"|" "$PODMAN_DIR/containers.conf"
# Podman puts the API socket in tmp_dir, named after the container's 64-digit ID: it dials it itself, which
# fails past 107 bytes, so tmp_dir must be short (Podman's default, /run/libpod, is).
SHORT_TMP=$(mktemp -d /tmp/psl.XXXXXX)
sed -i "s|^tmp_dir = .*|tmp_dir = \"$SHORT_TMP\"|" "$PODMAN_DIR/containers.conf"
check "containers.conf points network_cmd_path at our slirp4netns" grep -q "network_cmd_path = \"$SLIRP\"" "$PODMAN_DIR/containers.conf"
check "a busybox-static image is imported" podman_build_image "$BUSYBOX_DEB" "$IMAGE"

mkdir -p "$P/inetwww"; echo "hello from the lab internet" > "$P/inetwww/hello.txt"
lab_serve "$LAB_HOST" python3 "$TOOL" dns-server 127.0.0.1 53 192.0.2.53
lab_serve "$LAB_INET" python3 -m http.server --bind 203.0.113.10 --directory "$P/inetwww" 7180
lab_wait_for 50 lab_listening "$LAB_INET" 7180

source "$here/podman/slirp4netns-scenario.sh"

echo "this run's own clean-up"
podman_cleanup
trap - EXIT
check "no process from the test's directory runs" eval '[ -z "$(podman_processes_using "$P")" ]'
check "the test's Podman directory and the lab namespaces are gone, Podman's too" \
    eval '[ ! -e "$P" ] && [ ! -e "$SHORT_TMP" ] && ! ip netns list 2>/dev/null | grep -q "^${LAB_ID}-" &&
          [ -z "$(podman_namespaces_left)" ]'
finish
