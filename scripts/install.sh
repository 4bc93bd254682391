#!/usr/bin/env bash
# Builds the release binaries and installs them, or removes what an installation put there.
#
#   bash scripts/install.sh [--prefix P] [--destdir D] [--uninstall] [--no-build]
#   bash scripts/install.sh P            (the old form: the prefix alone)
#
# --prefix P    where the files go at run time (default /usr/local)
# --destdir D   a staging root the files are written under (D/P/...), as packagers use; links point to
#               where the files will be at run time, not into D
# --uninstall   removes exactly the files listed below (and the directories that end up empty)
# --no-build    installs what .build/release holds (built and stamped already)
# The binaries are built with the Swift runtime inside them (--static-swift-stdlib): they run without
# the toolchain.
#
# What goes where (P = prefix):
#   P/bin/pasta                  the program; its name picks the mode
#   P/bin/passt, P/bin/pesto     links to pasta
#   P/bin/kata-passt-endpoint    the Kata helper
#   P/bin/podman-netplugin       the Podman OCI hook
#   P/libexec/pasta-swift/slirp4netns
#                                a link to pasta out of PATH (a real slirp4netns is not shadowed;
#                                containers.conf's network_cmd_path points there)
#   P/share/pasta-swift/contrib/ the Podman hook files and the Kata snippets (contrib/)
#   P/share/man/man1/            pasta.1, passt.1, pesto.1, pasta-slirp4netns.1, kata-passt-endpoint.1,
#                                podman-netplugin.1 (scripts/make-man.py, from the binaries' --help)
# As root for a system prefix; no root needed with --destdir into a directory of your own.
set -euo pipefail
started_in=$PWD
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
prefix=/usr/local destdir="" uninstall=no build=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
        --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
        --uninstall) uninstall=yes; shift ;;
        --no-build) build=no; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) prefix="$1"; shift ;;
    esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be an absolute path, not '$prefix'" >&2; exit 2 ;; esac
# A relative --destdir is where the caller stands, not this checkout.
case "$destdir" in ""|/*) ;; *) destdir="$started_in/$destdir" ;; esac
root="$destdir$prefix"

# Every file an installation makes, relative to the prefix.
programs=(bin/pasta bin/kata-passt-endpoint bin/podman-netplugin)
links=(bin/passt bin/pesto libexec/pasta-swift/slirp4netns)
man_pages=()
for page in pasta passt pesto pasta-slirp4netns kata-passt-endpoint podman-netplugin; do
    man_pages+=("share/man/man1/$page.1")
done
contrib_files=()
while IFS= read -r file; do contrib_files+=("share/pasta-swift/contrib/${file#contrib/}"); done \
    < <(find contrib -type f | sort)

if [ "$uninstall" = yes ]; then
    removed=0
    for file in "${programs[@]}" "${contrib_files[@]}" "${man_pages[@]}"; do
        if [ -e "$root/$file" ] || [ -L "$root/$file" ]; then rm -f "$root/$file"; removed=$((removed + 1)); fi
    done
    # Links only where they are ours: a passt of another package at the same path stays.
    for link in "${links[@]}"; do
        case "$(readlink "$root/$link" 2>/dev/null)" in
            pasta|../../bin/pasta) rm -f "$root/$link"; removed=$((removed + 1)) ;;
            "") ;;
            *) echo "install.sh: $root/$link is not ours (not a link to our pasta): left alone" >&2 ;;
        esac
    done
    # Directories of ours that are now empty, deepest first; shared ones (bin, libexec) stay.
    find "$root/share/pasta-swift" "$root/libexec/pasta-swift" -depth -type d -empty -delete 2>/dev/null || true
    echo "removed $removed files from $root"
    exit 0
fi

if [ "$build" = yes ]; then
    bash scripts/stamp-commit.sh >/dev/null
    swift build -c release --static-swift-stdlib
fi
for binary in pasta kata-passt-endpoint podman-netplugin; do
    [ -x ".build/release/$binary" ] || { echo "install.sh: .build/release/$binary is missing" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "install.sh: python3 is needed to write the man pages" >&2; exit 1; }
pages=$(mktemp -d); trap 'rm -rf "$pages"' EXIT
python3 scripts/make-man.py .build/release "$pages"
for file in "${man_pages[@]}"; do install -D -m 0644 "$pages/${file##*/}" "$root/$file"; done
install -D -m 0755 .build/release/pasta "$root/bin/pasta"
install -m 0755 .build/release/kata-passt-endpoint "$root/bin/kata-passt-endpoint"
install -m 0755 .build/release/podman-netplugin "$root/bin/podman-netplugin"
ln -sfn pasta "$root/bin/passt"
ln -sfn pasta "$root/bin/pesto"
install -d "$root/libexec/pasta-swift"
ln -sfn ../../bin/pasta "$root/libexec/pasta-swift/slirp4netns"
for file in "${contrib_files[@]}"; do
    source_file="contrib/${file#share/pasta-swift/contrib/}"
    mode=0644; [ -x "$source_file" ] && mode=0755
    install -D -m "$mode" "$source_file" "$root/$file"
done
# The build tree gets the links too, so the tests can run passt, pesto and slirp4netns from it.
for name in passt pesto slirp4netns; do ln -sf pasta ".build/release/$name"; done
echo "installed under $root: ${programs[*]} ${links[*]}, ${#man_pages[@]} man pages and ${#contrib_files[@]} files in" \
     "share/pasta-swift/contrib"
