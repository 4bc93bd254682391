#!/usr/bin/env bash
# test_passt_vm.sh with the guest on vhost-user: qemu (7.2, TCG) shares the guest's memory with passt
# --vhost-user, which reads and writes the virtio-net rings itself (-netdev vhost-user instead of stream).
set -u
here=$(cd "$(dirname "$0")" && pwd)
PASST_VHOST_USER=yes exec bash "$here/test_passt_vm.sh"
