#!/usr/bin/env bash
# Installs the Podman hook: podman-netplugin and pasta side by side in LIBEXEC, and the two hooks.d files
# (createRuntime starts pasta, poststop stops it) in HOOKS_DIR, pointing at that copy.
#   install.sh [--libexec DIR] [--hooks-dir DIR] [--run-dir DIR] [--build DIR]
# Defaults: /usr/local/libexec/podman, /etc/containers/oci/hooks.d, the hook's own run directory,
# and the release build of this checkout (swift build -c release).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
libexec=/usr/local/libexec/podman
hooks_dir=/etc/containers/oci/hooks.d
run_dir=
build="$here/../../.build/release"
while [ $# -gt 0 ]; do
    case "$1" in
        --libexec) libexec="$2"; shift 2 ;;
        --hooks-dir) hooks_dir="$2"; shift 2 ;;
        --run-dir) run_dir="$2"; shift 2 ;;
        --build) build="$2"; shift 2 ;;
        *) echo "usage: install.sh [--libexec DIR] [--hooks-dir DIR] [--run-dir DIR] [--build DIR]" >&2; exit 2 ;;
    esac
done
for binary in podman-netplugin pasta; do
    [ -x "$build/$binary" ] || { echo "install.sh: $build/$binary is missing: swift build -c release first" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "install.sh: jq is needed" >&2; exit 1; }
install -d -m 0755 "$libexec" "$hooks_dir"
install -m 0755 "$build/podman-netplugin" "$build/pasta" "$libexec/"
for stage in start stop; do
    jq --arg path "$libexec/podman-netplugin" --arg run "$run_dir" '
        .hook.path = $path
        | if $run != "" then .hook.args = [.hook.args[0], "--run-dir", $run] + .hook.args[1:] else . end' \
        "$here/podman-netplugin-$stage.json" > "$hooks_dir/podman-netplugin-$stage.json"
    chmod 0644 "$hooks_dir/podman-netplugin-$stage.json"
done
echo "installed $libexec/podman-netplugin, $libexec/pasta and $hooks_dir/podman-netplugin-{start,stop}.json"
