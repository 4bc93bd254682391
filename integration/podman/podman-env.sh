# Podman for the hook tests, entirely in directories the test makes and removes: storage (vfs), run root,
# libpod's tmp, hooks.d, events log and network config under $PODMAN_DIR, containers.conf and storage.conf
# passed through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF. Podman runs in the lab host's network
# namespace with `nsenter --net` (`ip netns exec` would hide the cgroup mounts runc needs behind a fresh
# /sys) and in a mount namespace of its own per command, where the lab's resolv.conf covers /etc/resolv.conf
# (pasta's DNS forwarder reads it) and, as root, an empty directory covers /var/lib/containers (Podman's
# blob cache). runc keeps its state under $PODMAN_DIR too, not in /run/runc: Podman runs it through a
# wrapper that adds --root (a --runtime-flag would not reach the `podman container cleanup` that conmon
# starts).
# Source after lab.sh; call podman_env_setup DIR HOOKS_DIR once, then `in_podman ARGS...` runs `podman ARGS...`.

# podman_env_setup DIR HOOKS_DIR: writes the configuration files for a store in DIR using hooks in HOOKS_DIR.
podman_env_setup() {
    PODMAN_DIR="$1"
    local hooks="$2"
    mkdir -p "$PODMAN_DIR"/{graph,runroot,tmp,netconf,varlib,runc,bin}
    printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$(command -v runc)" "$PODMAN_DIR/runc" > "$PODMAN_DIR/bin/runc"
    chmod 0755 "$PODMAN_DIR/bin/runc"
    cat > "$PODMAN_DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[network]
network_config_dir = "$PODMAN_DIR/netconf"
[engine]
runtime = "runc"
hooks_dir = ["$hooks"]
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
cgroup_manager = "cgroupfs"
tmp_dir = "$PODMAN_DIR/tmp"
image_copy_tmp_dir = "$PODMAN_DIR/tmp"
[engine.runtimes]
runc = ["$PODMAN_DIR/bin/runc"]
CONF
    cat > "$PODMAN_DIR/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$PODMAN_DIR/graph"
runroot = "$PODMAN_DIR/runroot"
rootless_storage_path = "$PODMAN_DIR/graph"
CONF
    echo "nameserver 127.0.0.1" > "$PODMAN_DIR/resolv.conf"
}

# What runs in Podman's private mount namespace before Podman itself. As root: the lab's resolv.conf, the
# empty /var/lib/containers, then podman. For $PODMAN_USER (rootless): first a 0666 tun node of our own on
# a tmpfs that exists only in this mount namespace, bound over /dev/net/tun (the machine's node stays
# 0600), then podman as that user with its home and runtime directory. Rootless Podman keeps the mount
# namespace of its first command (its pause process holds it), where these mounts are the same.
PODMAN_PREPARE='mount --bind "$PODMAN_DIR/resolv.conf" /etc/resolv.conf || exit 125
if [ -n "$PODMAN_USER" ]; then
    mount -t tmpfs -o size=16k,mode=0755 pasta-podman-tun "$PODMAN_TUN_DIR" &&
    mknod -m 0666 "$PODMAN_TUN_DIR/tun" c 10 200 &&
    mount --bind "$PODMAN_TUN_DIR/tun" /dev/net/tun || exit 125
    exec setpriv --reuid="$PODMAN_USER" --regid="$PODMAN_USER" --init-groups --reset-env \
        env HOME="$PODMAN_HOME" XDG_RUNTIME_DIR="$PODMAN_RUNTIME_DIR" CONTAINERS_CONF="$CONTAINERS_CONF" \
            CONTAINERS_STORAGE_CONF="$CONTAINERS_STORAGE_CONF" podman "$@"
fi
mount --bind "$PODMAN_DIR/varlib" /var/lib/containers || exit 125
exec podman "$@"'
in_podman() {
    PODMAN_DIR="$PODMAN_DIR" PODMAN_USER="${PODMAN_USER:-}" PODMAN_HOME="${PODMAN_HOME:-}" \
    PODMAN_TUN_DIR="${PODMAN_TUN_DIR:-}" PODMAN_RUNTIME_DIR="${PODMAN_RUNTIME_DIR:-}" \
    CONTAINERS_CONF="$PODMAN_DIR/containers.conf" CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf" \
        nsenter --net="/run/netns/$LAB_HOST" unshare --mount --propagation slave sh -c "$PODMAN_PREPARE" podman "$@"
}

# podman_build_image DEB NAME: a busybox-static image (httpd, wget, nslookup, ip) with /www/index.html.
podman_build_image() {
    local deb="$1" name="$2" rootfs="$PODMAN_DIR/rootfs" applet
    mkdir -p "$rootfs"/{bin,etc,www,tmp} "$PODMAN_DIR/deb"
    dpkg-deb -x "$deb" "$PODMAN_DIR/deb" || return 1
    cp "$PODMAN_DIR/deb/bin/busybox" "$rootfs/bin/busybox" || return 1
    for applet in sh httpd sleep cat ip nslookup wget echo ls grep head; do ln -s busybox "$rootfs/bin/$applet"; done
    echo 'root:x:0:0:root:/:/bin/sh' > "$rootfs/etc/passwd"
    echo 'root:x:0:' > "$rootfs/etc/group"
    echo "hello from the container" > "$rootfs/www/index.html"
    tar -C "$rootfs" -cf "$PODMAN_DIR/image.tar" . || return 1
    # Rootless Podman warns that "/" is not a shared mount (ours is a slave): shown only on failure.
    in_podman import -q "$PODMAN_DIR/image.tar" "$name" >/dev/null 2>"$PODMAN_DIR/import.err" ||
        { cat "$PODMAN_DIR/import.err" >&2; return 1; }
}

# Non-zombie processes whose command line mentions $1 (our copies of pasta and the hook, conmon, runc).
podman_processes_using() {
    local pid
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$pid" = "$$" ] && continue
        grep -qsF -- "$1" "/proc/$pid/cmdline" || continue
        grep -qs '^State:.*Z' "/proc/$pid/status" && continue
        echo "$pid"
    done
}
