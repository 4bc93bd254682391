#!/usr/bin/env bash
# Builds the Debian package pasta-swift_VERSION_ARCH.deb with dpkg-deb.
#
#   bash scripts/package-deb.sh [--out DIR] [--no-build] [--compression zstd|xz|gzip]
#
# --out DIR       where the .deb is written (default: the directory it is run from)
# --no-build      packages what .build/release holds (stamped and built with --static-swift-stdlib
#                 already, as run-tests.sh builds it)
# --compression   of the data in the .deb: zstd (the default: a fraction of a second, where xz takes
#                 20 s; dpkg reads it since Debian 12), xz (smallest, for older dpkg) or gzip
#
# The files are the ones scripts/install.sh lays out with --prefix /usr (it writes them into the staging
# directory), with debug information stripped and the man pages gzipped. The binaries carry the Swift runtime inside them
# (--static-swift-stdlib), so the package needs no toolchain at run time; Depends lists the packages of the
# shared libraries they do load (their NEEDED entries, found with ldconfig, the package owning each with
# dpkg -S, and the dependency that package declares for that library in its shlibs file, as
# dpkg-shlibdeps falls back to). The package replaces Debian's passt (Conflicts, Replaces and Provides:
# passt): it ships /usr/bin/pasta and /usr/bin/passt, as passt does (README says why no alternatives).
set -euo pipefail
started_in=$PWD
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
out="$started_in" build=yes compression=zstd
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="${2:?--out needs a directory}"; shift 2 ;;
        --no-build) build=no; shift ;;
        --compression) compression="${2:?--compression needs zstd, xz or gzip}"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package-deb.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$compression" in zstd|xz|gzip) ;; *) echo "package-deb.sh: --compression zstd, xz or gzip" >&2; exit 2 ;; esac
case "$out" in /*) ;; *) out="$started_in/$out" ;; esac
say() { echo "package-deb: $*"; }

if [ "$build" = yes ]; then
    bash scripts/stamp-commit.sh >/dev/null
    swift build -c release --static-swift-stdlib 2>&1 | tail -n 1
    [ "${PIPESTATUS[0]}" -eq 0 ] || { say "the release build failed"; exit 1; }
fi
for binary in pasta kata-passt-endpoint podman-netplugin; do
    [ -x ".build/release/$binary" ] || { say ".build/release/$binary is missing"; exit 1; }
    if objdump -p ".build/release/$binary" | grep -qE "NEEDED +libswift"; then
        say ".build/release/$binary loads the Swift runtime from the toolchain: build it with --static-swift-stdlib"
        exit 1
    fi
done

version=$(.build/release/pasta --version | sed -nE '1s/^pasta-swift ([0-9][^ ]*) .*/\1/p')
[ -n "$version" ] || { say "pasta --version names no version"; exit 1; }
arch=$(dpkg --print-architecture)
stage=$(mktemp -d /tmp/pasta-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root="$stage/pasta-swift_${version}_$arch"

bash scripts/install.sh --no-build --prefix /usr --destdir "$root" >/dev/null
elves=()
while IFS= read -r file; do
    head -c 4 "$file" | grep -q "^.ELF" && elves+=("$file")
done < <(find "$root" -type f | sort)
[ ${#elves[@]} -gt 0 ] || { say "install.sh installed no binary"; exit 1; }
for file in "${elves[@]}"; do strip --strip-debug "$file"; done
# Man pages are shipped compressed, as Debian policy (12.1) asks; -n keeps the .deb reproducible.
gzip -9n "$root"/usr/share/man/man*/*.[1-9]

# depends_of SONAME: the dependency the package shipping that library declares for it (its shlibs line,
# "NAME VERSION DEPENDENCY"), or the package's name when it declares none.
depends_of() {
    local soname="$1" path package shlibs name sover
    path=$(ldconfig -p | awk -v so="$soname" '$1 == so && /x86-64/ { print $NF; exit }')
    [ -n "$path" ] || { say "no $soname on this system (ldconfig -p)" >&2; return 1; }
    # dpkg knows the path it installed, which may be the unmerged /lib one or the link's target.
    package=$( { dpkg -S "$path" || dpkg -S "${path#/usr}" || dpkg -S "$(readlink -f "$path")" ||
                 dpkg -S "$(readlink -f "$path" | sed 's|^/usr||')"; } 2>/dev/null | head -n 1 | cut -d: -f1)
    [ -n "$package" ] || { say "no package ships $path ($soname)" >&2; return 1; }
    name=${soname%%.so*}; sover=${soname##*.so.}
    shlibs=$(dpkg-query --control-path "$package" shlibs 2>/dev/null || true)
    if [ -n "$shlibs" ] && awk -v n="$name" -v v="$sover" '$1 == n && $2 == v { found = 1 } END { exit !found }' "$shlibs"; then
        awk -v n="$name" -v v="$sover" '$1 == n && $2 == v { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$shlibs"
    else
        echo "$package"
    fi
}
mapfile -t sonames < <(for file in "${elves[@]}"; do objdump -p "$file" | awk '$1 == "NEEDED" { print $2 }'; done | sort -u)
depends=()
for soname in "${sonames[@]}"; do
    dependency=$(depends_of "$soname") || exit 1
    depends+=("$dependency")
done
depends_line=$(printf '%s\n' "${depends[@]}" | sort -u | paste -sd, | sed 's/,/, /g')

mkdir -p "$root/DEBIAN"
(cd "$root" && find usr -type f -printf '%P\n' | sort | sed 's|^|usr/|' | xargs md5sum) >"$root/DEBIAN/md5sums"
cat >"$root/DEBIAN/control" <<EOF
Package: pasta-swift
Version: $version
Architecture: $arch
Maintainer: ${PASTA_DEB_MAINTAINER:-pasta-swift maintainers <pasta-swift@localhost>}
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends_line
Conflicts: passt
Replaces: passt
Provides: passt
Section: net
Priority: optional
Description: user-mode networking for namespaces and VMs (pasta and passt in Swift)
 pasta connects a network namespace, and passt a virtual machine, to the host's
 network without privileges, with the command line of pasta(1) and passt(1), so
 Podman, Buildah, libvirt and Kata Containers can use it in place of passt.
 Also: pesto (pasta's control client), kata-passt-endpoint, podman-netplugin
 (an OCI hook), a slirp4netns drop-in in /usr/libexec/pasta-swift, and man pages.
EOF
mkdir -p "$out"
deb="$out/pasta-swift_${version}_$arch.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$root" "$deb" >/dev/null
say "$deb ($(du -k "$deb" | cut -f1) KiB; Depends: $depends_line)"
