#!/usr/bin/env bash
# test_podman_slirp4netns.sh's scenario with rootless Podman, its main use: a throwaway user (created and
# removed here, with subordinate IDs from useradd) runs Podman 4.3.1 in the lab host with a private 0666 tun
# node bound over /dev/net/tun in a mount namespace of its own (integration/podman/podman-env.sh); Podman
# starts our slirp4netns inside its user namespace. Afterwards the user, its processes and files are gone.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
source "$here/podman/podman-env.sh"
TOOL="$here/tcp_tool.py"
IMAGE=localhost/pasta-test:busybox

needs python3 curl ps podman runc newuidmap
needs_debs busybox-static
BUSYBOX_DEB=$(deps_cached_deb busybox-static)
if [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ] ||
   [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
    echo "  skipped: unprivileged user namespaces are disabled on this machine"
    exit 0
fi

PODMAN_USER="pastaslirp$$"
P=$(mktemp -d /tmp/pasta-podman-slirp-rootless.XXXXXX)
chmod 0755 "$P"
PODMAN_HOME="$P/home"
PODMAN_RUNTIME_DIR=$(mktemp -d /tmp/psr.XXXXXX)  # short: Podman dials the API socket it names in there
PODMAN_TUN_DIR=$(mktemp -d /tmp/pasta-podman-tun.XXXXXX)
TUN_MODE_BEFORE=$(stat -c '%a %U %t:%T' /dev/net/tun)

user_processes() { [ -n "${PODMAN_UID:-}" ] && ps -o pid= -u "$PODMAN_UID" -U "$PODMAN_UID" | tr -d ' '; }
rootless_cleanup() {
    local pid i
    if [ -n "${PODMAN_UID:-}" ] && [ -d "$P/podman/graph" ]; then in_podman rm -af -t 0 >/dev/null 2>&1; fi
    for pid in $(user_processes); do kill -KILL "$pid" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do [ -z "$(user_processes)" ] && break; sleep 0.1; done
    for pid in $(podman_processes_using "$P"); do kill -KILL "$pid" 2>/dev/null; done
    lab_cleanup
    id "$PODMAN_USER" >/dev/null 2>&1 && userdel --remove "$PODMAN_USER" 2>/dev/null
    rm -rf "$P" "$PODMAN_RUNTIME_DIR"
    rmdir "$PODMAN_TUN_DIR" 2>/dev/null
}
lab_begin
trap rootless_cleanup EXIT
trap 'exit 1' TERM INT

useradd --create-home --home-dir "$PODMAN_HOME" --user-group --shell /bin/sh "$PODMAN_USER" || exit 1
PODMAN_UID=$(id -u "$PODMAN_USER")
if ! grep -qs "^$PODMAN_USER:" /etc/subuid || ! grep -qs "^$PODMAN_USER:" /etc/subgid; then
    echo "  skipped: useradd gave $PODMAN_USER no subordinate IDs (SUB_UID_COUNT in /etc/login.defs)"
    exit 0
fi
echo "rootless user $PODMAN_USER uid $PODMAN_UID"
chown "$PODMAN_USER:$PODMAN_USER" "$PODMAN_RUNTIME_DIR"; chmod 0700 "$PODMAN_RUNTIME_DIR"

mkdir -p "$P/libexec"; cp "$PASTA" "$P/libexec/pasta"; ln -s pasta "$P/libexec/slirp4netns"
SLIRP="$P/libexec/slirp4netns"
podman_env_setup "$P/podman" "$P/hooks"
sed -i "s|^\[engine\]$|[engine]\nnetwork_cmd_path = \"$SLIRP\"|" "$PODMAN_DIR/containers.conf"
sed -i "s|^tmp_dir = .*|tmp_dir = \"$PODMAN_RUNTIME_DIR/tmp\"|" "$PODMAN_DIR/containers.conf"
chown -R "$PODMAN_USER:$PODMAN_USER" "$P/podman"
check "the user holds no capabilities" \
    eval '[ "$(setpriv --reuid="$PODMAN_USER" --regid="$PODMAN_USER" --init-groups awk "/^CapEff:/ {print \$2}" /proc/self/status)" = 0000000000000000 ]'
check "a busybox-static image is imported by the user" podman_build_image "$BUSYBOX_DEB" "$IMAGE"

mkdir -p "$P/inetwww"; echo "hello from the lab internet" > "$P/inetwww/hello.txt"
lab_serve "$LAB_HOST" python3 "$TOOL" dns-server 127.0.0.1 53 192.0.2.53
lab_serve "$LAB_INET" python3 -m http.server --bind 203.0.113.10 --directory "$P/inetwww" 7180
lab_wait_for 50 lab_listening "$LAB_INET" 7180

source "$here/podman/slirp4netns-scenario.sh"

echo "this run's own clean-up"
rootless_cleanup
trap - EXIT
check "the user is gone, with its group, also from /etc/subuid and /etc/subgid" \
    eval '! id "$PODMAN_USER" >/dev/null 2>&1 && ! getent group "$PODMAN_USER" >/dev/null &&
          ! grep -qs "^$PODMAN_USER:" /etc/subuid /etc/subgid'
check "no process of uid $PODMAN_UID runs" eval '[ -z "$(ps -o pid= -u "$PODMAN_UID" -U "$PODMAN_UID")" ]'
check "its files and the tun mount point are gone" \
    eval '[ ! -e "$P" ] && [ ! -e "$PODMAN_RUNTIME_DIR" ] && [ ! -e "$PODMAN_TUN_DIR" ]'
check "the lab namespaces are deleted" eval '! ip netns list 2>/dev/null | grep -q "^${LAB_ID}-"'
check "the machine's /dev/net/tun is as before ($TUN_MODE_BEFORE)" \
    eval '[ "$(stat -c "%a %U %t:%T" /dev/net/tun)" = "$TUN_MODE_BEFORE" ]'
finish
