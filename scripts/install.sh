#!/usr/bin/env bash
# Builds the release binaries and installs pasta, with passt and pesto as links to it (the program name
# picks the mode), kata-passt-endpoint next to them, and a slirp4netns link in PREFIX/libexec/pasta-swift
# (out of PATH, so a real slirp4netns is not shadowed; containers.conf's network_cmd_path points there):
# As root: `bash scripts/install.sh [PREFIX]` (default /usr/local; binaries in PREFIX/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
prefix="${1:-/usr/local}"
swift build -c release
install -D -m 0755 .build/release/pasta "$prefix/bin/pasta"
ln -sf pasta "$prefix/bin/passt"
ln -sf pasta "$prefix/bin/pesto"
install -d "$prefix/libexec/pasta-swift"
ln -sf "$prefix/bin/pasta" "$prefix/libexec/pasta-swift/slirp4netns"
for name in passt pesto slirp4netns; do ln -sf pasta ".build/release/$name"; done
install -m 0755 .build/release/kata-passt-endpoint "$prefix/bin/kata-passt-endpoint"
echo "installed $prefix/bin/pasta, $prefix/bin/passt, $prefix/bin/pesto, $prefix/bin/kata-passt-endpoint" \
     "and $prefix/libexec/pasta-swift/slirp4netns"
