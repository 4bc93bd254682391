#!/usr/bin/env bash
# Done-when 4: spawn mode runs the command in a new user+network namespace configured by pasta and
# exits with the command's status.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs jq
lab_begin

out=$(lab_in "$LAB_HOST" "$PASTA" --config-net -q -t none -u none -T none -U none -- ip -j addr)
rc=$?
check "spawned ip exits 0 and pasta passes it on (rc=$rc)" [ "$rc" -eq 0 ]
check "the command saw 198.51.100.2/24 on eth0" \
    json_has "$out" '.[] | select(.ifname=="eth0") | .addr_info[] | select(.local=="198.51.100.2" and .prefixlen==24)'
check "the command saw 2001:db8:1::2/64 on eth0" \
    json_has "$out" '.[] | select(.ifname=="eth0") | .addr_info[] | select(.local=="2001:db8:1::2" and .prefixlen==64)'
check "the command ran in a new network namespace" \
    bash -c "[ \"\$(ip netns exec $LAB_HOST \"$PASTA\" -q -t none -u none -T none -U none -- readlink /proc/self/ns/net)\" != \"\$(ip netns exec $LAB_HOST readlink /proc/self/ns/net)\" ]"

out=$(lab_in "$LAB_HOST" "$PASTA" --config-net --netns-only -q -t none -u none -T none -U none -- \
    sh -c 'readlink /proc/self/ns/user; ip -br addr show dev eth0')
check "--netns-only: the command stays in our user namespace, without ID maps of its own" \
    [ "$(head -n 1 <<<"$out")" = "$(readlink /proc/self/ns/user)" ]
check "--netns-only: in a configured network namespace of its own" grep -q "198.51.100.2/24" <<<"$out"

lab_in "$LAB_HOST" "$PASTA" -q -t none -u none -T none -U none -- sh -c 'exit 7'
rc=$?
check "pasta -- sh -c 'exit 7' exits 7 (rc=$rc)" [ "$rc" -eq 7 ]

lab_in "$LAB_HOST" "$PASTA" -q -t none -u none -T none -U none -- /nonexistent/command 2>/dev/null
rc=$?
check "a command that can't run gives 127 (rc=$rc)" [ "$rc" -eq 127 ]

out=$(SHELL=/bin/sh lab_in "$LAB_HOST" "$PASTA" -q -t none -u none -T none -U none <<<'echo from-default-shell')
check "without a command, \$SHELL runs (got '$out')" [ "$out" = from-default-shell ]

# Inside a user namespace that maps one ID (toolbox, rootless CI in a container): the command's namespace
# maps what ours has, and it runs.
err=$(mktemp); lab_track_file "$err"
out=$(lab_in "$LAB_HOST" unshare -rUm "$PASTA" --config-net -q -t none -u none -T none -U none -- \
    sh -c 'id -u; tr -s " " <"/proc/self/uid_map"; ip -br addr show dev eth0' 2>"$err")
rc=$?
sed 's/^/    /' "$err"
check "inside unshare -rUm (one ID), pasta --config-net -- CMD exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "... the command is root there, with the one ID mapped ($(sed -n 2p <<<"$out"))" \
    eval '[ "$(head -n 1 <<<"$out")" = 0 ] && [ "$(sed -n 2p <<<"$out" | xargs)" = "0 0 1" ]'
check "... in a configured network namespace of its own" grep -q "198.51.100.2/24" <<<"$out"
finish
