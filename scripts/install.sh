#!/usr/bin/env bash
# Builds the release binaries and installs pasta, with passt and pesto as links to it (the program name
# picks the mode), and kata-passt-endpoint next to them: `sudo bash scripts/install.sh [PREFIX]` (default /usr/local;
# binaries in PREFIX/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
prefix="${1:-/usr/local}"
swift build -c release
install -D -m 0755 .build/release/pasta "$prefix/bin/pasta"
ln -sf pasta "$prefix/bin/passt"
ln -sf pasta "$prefix/bin/pesto"
ln -sf pasta .build/release/passt
ln -sf pasta .build/release/pesto
install -m 0755 .build/release/kata-passt-endpoint "$prefix/bin/kata-passt-endpoint"
echo "installed $prefix/bin/pasta, $prefix/bin/passt, $prefix/bin/pesto and $prefix/bin/kata-passt-endpoint"
