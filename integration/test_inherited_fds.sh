#!/usr/bin/env bash
# Done-when 7: pipes inherited on fds 3 and 4 (as an OCI hook's would be) reach EOF as soon as pasta's
# parent exits, and the daemon holds none of them.
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs ps
lab_begin with-container
DIR=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$DIR"
mkfifo "$DIR/f3" "$DIR/f4"

# Readers that finish only at EOF, i.e. once every writer has closed its end.
timeout 5 cat "$DIR/f3" >/dev/null & r3=$!
timeout 5 cat "$DIR/f4" >/dev/null & r4=$!
lab_track_pid "$r3"; lab_track_pid "$r4"

lab_in "$LAB_HOST" "$PASTA" --config-net -q -t none -u none -T none -U none -P "$DIR/pid" --netns "$CTR" \
    3>"$DIR/f3" 4>"$DIR/f4"
rc=$?
parent_done=$(now_ms)
check "pasta started (rc=$rc)" [ "$rc" -eq 0 ]
pid=$(cat "$DIR/pid"); lab_track_pid "$pid"

wait "$r3"; s3=$?
wait "$r4"; s4=$?
elapsed=$(( $(now_ms) - parent_done ))
check "reader of fd 3 saw EOF (status $s3, not a timeout)" [ "$s3" -eq 0 ]
check "reader of fd 4 saw EOF (status $s4, not a timeout)" [ "$s4" -eq 0 ]
check "EOF came at once after the parent exited (${elapsed} ms)" [ "$elapsed" -lt 1000 ]
check "the daemon is running" lab_alive "$pid"
fds=$(ls -l "/proc/$pid/fd" 2>/dev/null)
check "the daemon holds no FIFO or pipe" bash -c "! grep -Eq 'pipe:|/f3|/f4' <<<'$fds'"
# By device number, not path: the sandbox left the mount namespace /dev/null was opened in (ip netns
# exec's), so readlink no longer shows its path.
null_dev=$(stat -L -c %t:%T /dev/null)
check "the daemon's stdio is /dev/null ($null_dev)" \
    bash -c "for fd in 0 1 2; do [ \"\$(stat -L -c %F:%t:%T /proc/$pid/fd/\$fd)\" = \"character special file:$null_dev\" ] || exit 1; done"
check "the daemon leads its own session" [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]
finish
