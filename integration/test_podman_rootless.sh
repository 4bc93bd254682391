#!/usr/bin/env bash
# The Podman hook scenario of test_podman.sh with rootless Podman: a throwaway user (created and removed
# here, with subordinate IDs from useradd) runs Podman in the lab host with a private 0666 tun node bound
# over /dev/net/tun in a mount namespace of its own (the machine's node is never touched). The hook runs
# in Podman's user namespace and starts pasta as the user; its run directory is in the user's runtime
# directory. Afterwards the user, its subordinate IDs, processes and files are gone.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
source "$here/podman/podman-env.sh"
TOOL="$here/tcp_tool.py"
PLUGIN_BUILD=$(dirname "$PASTA")
IMAGE=localhost/pasta-test:busybox

[ -x "$PLUGIN_BUILD/podman-netplugin" ] || { fail "$PLUGIN_BUILD/podman-netplugin is not built"; finish; exit 1; }
needs python3 curl jq ps podman runc newuidmap
needs_debs busybox-static
BUSYBOX_DEB=$(deps_cached_deb busybox-static)
if [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ] ||
   [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
    echo "  skipped: unprivileged user namespaces are disabled on this machine"
    exit 0
fi

PODMAN_USER="pastapod$$"
P=$(mktemp -d /tmp/pasta-podman-rootless.XXXXXX)
chmod 0755 "$P"
PODMAN_HOME="$P/home"
PODMAN_RUNTIME_DIR="$P/runtime"
PODMAN_TUN_DIR=$(mktemp -d /tmp/pasta-podman-tun.XXXXXX)  # mount point for the private tmpfs only
RUN_DIR="$PODMAN_RUNTIME_DIR/podman-netplugin"
TUN_MODE_BEFORE=$(stat -c '%a %U %t:%T' /dev/net/tun)

user_processes() { [ -n "${PODMAN_UID:-}" ] && ps -o pid= -u "$PODMAN_UID" -U "$PODMAN_UID" | tr -d ' '; }
rootless_cleanup() {
    local pid i
    if [ -n "${PODMAN_UID:-}" ] && [ -d "$P/podman/graph" ]; then in_podman rm -af -t 0 >/dev/null 2>&1; fi
    # Podman's pause process, conmon and any pasta left go by their PIDs; userdel refuses a user who
    # still runs anything.
    for pid in $(user_processes); do kill -KILL "$pid" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do [ -z "$(user_processes)" ] && break; sleep 0.1; done
    for pid in $(podman_processes_using "$P"); do kill -KILL "$pid" 2>/dev/null; done
    lab_cleanup
    id "$PODMAN_USER" >/dev/null 2>&1 && userdel --remove "$PODMAN_USER" 2>/dev/null
    rm -rf "$P"
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
echo "rootless user $PODMAN_USER uid $PODMAN_UID, subordinate uids $(grep "^$PODMAN_USER:" /etc/subuid | cut -d: -f2-)"
install -d -m 0700 -o "$PODMAN_USER" -g "$PODMAN_USER" "$PODMAN_RUNTIME_DIR"

bash "$here/../contrib/podman/install.sh" --build "$PLUGIN_BUILD" --libexec "$P/libexec" \
    --hooks-dir "$P/hooks" --run-dir "$RUN_DIR" >/dev/null
podman_env_setup "$P/podman" "$P/hooks"
chown -R "$PODMAN_USER:$PODMAN_USER" "$P/podman"
check "the user holds no capabilities" \
    eval '[ "$(setpriv --reuid="$PODMAN_USER" --regid="$PODMAN_USER" --init-groups awk "/^CapEff:/ {print \$2}" /proc/self/status)" = 0000000000000000 ]'
check "a busybox-static image is imported by the user" podman_build_image "$BUSYBOX_DEB" "$IMAGE"
check "the image store is the user's" eval '[ "$(stat -c %U "$P/podman/graph/vfs-images")" = "$PODMAN_USER" ]'

mkdir -p "$P/hostwww"; echo "hello from the lab host" > "$P/hostwww/hello.txt"
lab_serve "$LAB_HOST" python3 "$TOOL" dns-server 127.0.0.1 53 192.0.2.53
lab_serve "$LAB_HOST" python3 -m http.server --bind 198.51.100.2 --directory "$P/hostwww" 7180
lab_wait_for 50 lab_listening "$LAB_HOST" 7180

source "$here/podman/scenario.sh"

echo "5. this run's own clean-up"
rootless_cleanup
trap - EXIT
check "the user is gone, with its group, also from /etc/subuid and /etc/subgid" \
    eval '! id "$PODMAN_USER" >/dev/null 2>&1 && ! getent group "$PODMAN_USER" >/dev/null &&
          ! grep -qs "^$PODMAN_USER:" /etc/subuid /etc/subgid'
check "no process of uid $PODMAN_UID runs" eval '[ -z "$(ps -o pid= -u "$PODMAN_UID" -U "$PODMAN_UID")" ]'
check "no process from the test's directory runs" eval '[ -z "$(podman_processes_using "$P")" ]'
check "its home, storage, runtime directory and the tun mount point are gone" \
    eval '[ ! -e "$P" ] && [ ! -e "$PODMAN_TUN_DIR" ]'
check "the lab namespaces are deleted" eval '! ip netns list | grep -q "^${LAB_ID}-"'
check "the machine's /dev/net/tun is as before ($TUN_MODE_BEFORE)" \
    eval '[ "$(stat -c "%a %U %t:%T" /dev/net/tun)" = "$TUN_MODE_BEFORE" ]'
finish
