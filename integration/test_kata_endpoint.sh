#!/usr/bin/env bash
# kata-passt-endpoint: attach, status and detach with their JSON read by jq; a second attach of a running
# index, --replace, a passt killed with SIGKILL, PID files naming other live processes (which must survive)
# or holding garbage, files in the way; bad input; Kata's own call through contrib/kata/passt-shim.sh.
# Everything runs in the lab host; passt_client.py plays the VM where one is needed (the real VM is
# test_kata_vm.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq pgrep
CLIENT="$here/passt_client.py"
KATA="${KATA:-$(dirname "$PASTA")/kata-passt-endpoint}"
lab_begin
WORK=$(mktemp -d /tmp/kata-test.XXXXXX); lab_track_file "$WORK"
RUN="$WORK/run"; mkdir "$RUN"
in_host() { ip netns exec "$LAB_HOST" "$@"; }

if [ ! -x "$KATA" ] || [ ! -x "$(dirname "$KATA")/passt" ]; then
    fail "kata-passt-endpoint and a passt link beside it in $(dirname "$KATA") (run-tests.sh makes the link)"
    finish; exit
fi

# kata ARGS...: runs the helper in the lab host; sets OUT (stdout), ERR (stderr), RC. A PID it reports as
# attached is tracked for cleanup.
kata() { kata_with "$KATA" "$@"; }
kata_with() {
    local program="$1"; shift
    OUT=$(in_host "$program" "$@" 2>"$WORK/stderr")
    RC=$?
    ERR=$(cat "$WORK/stderr")
    local pid; pid=$(jq -r 'select(.ok == true and .command == "attach") | .pid' <<<"$OUT" 2>/dev/null)
    [ -n "$pid" ] && lab_track_pid "$pid"
    return 0
}
# is FILTER: the last answer was exactly one JSON object and the jq filter holds for it.
is() { [ "$(jq -s 'length' <<<"$OUT" 2>/dev/null)" = 1 ] && jq -e "$@" <<<"$OUT" >/dev/null 2>&1; }
field() { jq -r "$1" <<<"$OUT"; }
accepts() { in_host python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])" "$1" 2>/dev/null; }
dhcp_offer() { in_host timeout 10 python3 "$CLIENT" dhcp "$1" 2>/dev/null | grep -q "^offer 198.51.100.2 "; }
gone() { ! lab_alive "$1"; }
# A stand-in for an unrelated program: a copy of sleep under NAME, running in the background; sets OTHER.
start_other() {
    mkdir -p "$WORK/bin"; [ -e "$WORK/bin/$1" ] || cp "$(command -v sleep)" "$WORK/bin/$1"
    "$WORK/bin/$1" 300 & OTHER=$!
    lab_track_pid "$OTHER"
}

echo "1. attach --index 3, status, detach"
SOCK="$RUN/kata-passt-3.socket"; PIDF="$RUN/kata-passt-3.pid"
kata attach --index 3 --dir "$RUN"
PID=$(field .pid)
check "attach: exit 0, one JSON object with ok true (rc=$RC)" eval '[ $RC -eq 0 ] && is ".ok == true and .command == \"attach\" and .index == 3"'
check "... socket and pidFile are DIR/kata-passt-3.socket and .pid" \
    is --arg s "$SOCK" --arg p "$PIDF" '.socket == $s and .pidFile == $p'
check "... pid is the number in the PID file" eval '[ -n "$PID" ] && [ "$(cat "$PIDF")" = "$PID" ]'
check "... a live process running our pasta binary (invoked as passt)" \
    eval 'lab_alive "$PID" && [ "$(readlink -f /proc/$PID/exe)" = "$(readlink -f "$PASTA")" ] && [ "$(basename "$(tr "\0" "\n" </proc/$PID/cmdline | head -1)")" = passt ]'
check "... qemuArgs: -netdev stream on the socket, -device virtio-net-pci with the default MAC" \
    is --arg s "$SOCK" '.qemuArgs == ["-netdev", "stream,id=kata-passt-3,server=off,addr.type=unix,addr.path=\($s)",
                                       "-device", "virtio-net-pci,netdev=kata-passt-3,mac=52:54:00:4b:00:03"] and .mac == "52:54:00:4b:00:03"'
check "... nothing but the JSON on stdout (passt's summary went to stderr)" \
    eval '[ "$(wc -l <<<"$OUT")" -eq 1 ] && grep -q "UNIX domain socket bound at $SOCK" <<<"$ERR"'
check "the socket accepts a connection" accepts "$SOCK"
check "a raw-frame guest on the socket gets a DHCP offer" dhcp_offer "$SOCK"
kata status --index 3 --dir "$RUN"
check "status: exit 0, running, the same pid and socket, listening" \
    eval '[ $RC -eq 0 ] && is --argjson pid "$PID" --arg s "$SOCK" ".state == \"running\" and .pid == \$pid and .socket == \$s and .socketListening == true and .reason == null"'
kata detach --index 3 --dir "$RUN"
check "detach: exit 0, previousState running, pid $PID stopped by SIGQUIT" \
    eval '[ $RC -eq 0 ] && is --argjson pid "$PID" ".previousState == \"running\" and .state == \"stopped\" and .stoppedPid == \$pid and .signal == \"SIGQUIT\""'
check "... the process is gone" gone "$PID"
check "... the PID file and the socket are removed" eval '[ ! -e "$PIDF" ] && [ ! -e "$SOCK" ]'
kata status --index 3 --dir "$RUN"
check "status: stopped, pid null" eval '[ $RC -eq 0 ] && is ".state == \"stopped\" and .pid == null"'
kata detach --index 3 --dir "$RUN"
check "detach again: exit 0, says nothing was running" \
    eval '[ $RC -eq 0 ] && is ".previousState == \"stopped\" and .message == \"nothing was running\" and .removed == []"'

echo "passt options, --mac, the default directory, a comma in the path, passt from PATH"
kata attach --index 4 --dir "$RUN" --mac 52:54:00:AB:cd:01 -- -qt 18080
check "attach -- -qt 18080: exit 0, and passt forwards the port (the lab host listens on 18080)" \
    eval '[ $RC -eq 0 ] && lab_wait_for 10 lab_listening "$LAB_HOST" 18080'
check "... --mac is written in lowercase into qemuArgs" is '.mac == "52:54:00:ab:cd:01" and (.qemuArgs[3] | endswith(",mac=52:54:00:ab:cd:01"))'
kata detach --index 4 --dir "$RUN"
check "... detach closes the port" eval '[ $RC -eq 0 ] && ! lab_listening "$LAB_HOST" 18080'
free_index=""
for n in $(seq 7000 7099); do
    [ -e "/tmp/kata-passt-$n.pid" ] || [ -e "/tmp/kata-passt-$n.socket" ] || { free_index=$n; break; }
done
if [ -n "$free_index" ]; then
    lab_track_file "/tmp/kata-passt-$free_index.pid"; lab_track_file "/tmp/kata-passt-$free_index.socket"
    kata attach --index "$free_index"
    check "without --dir the files are /tmp/kata-passt-$free_index.pid and .socket, as in Kata" \
        eval '[ $RC -eq 0 ] && is ".pidFile == \"/tmp/kata-passt-$free_index.pid\" and .socket == \"/tmp/kata-passt-$free_index.socket\"" && [ -S /tmp/kata-passt-$free_index.socket ]'
    kata detach --index "$free_index"
    check "... and detach removes them" eval '[ $RC -eq 0 ] && [ ! -e /tmp/kata-passt-$free_index.pid ] && [ ! -e /tmp/kata-passt-$free_index.socket ]'
else
    fail "the default paths can't be checked: /tmp/kata-passt-7000..7099 all exist (left by something else)"
fi
COMMA="$WORK/a,b"; mkdir "$COMMA"
kata attach --index 5 --dir "$COMMA"
check "a comma in the directory is doubled in qemu's addr.path (qemu's option escaping)" \
    eval '[ $RC -eq 0 ] && is --arg p "addr.path=$WORK/a,,b/kata-passt-5.socket" "(.qemuArgs[1] | endswith(\$p)) and .socket == \"$COMMA/kata-passt-5.socket\""'
kata detach --index 5 --dir "$COMMA"
ALONE="$WORK/alone"; mkdir "$ALONE"; cp "$KATA" "$ALONE/"
kata_with env PATH="$(dirname "$KATA"):/usr/bin:/bin" "$ALONE/kata-passt-endpoint" attach --index 6 --dir "$RUN"
check "a copy with no passt beside it runs the passt on PATH" \
    eval '[ $RC -eq 0 ] && is --arg p "$(dirname "$KATA")/passt" ".passt == \$p"'
kata_with env PATH="$(dirname "$KATA"):/usr/bin:/bin" "$ALONE/kata-passt-endpoint" detach --index 6 --dir "$RUN"
check "... and detaches it" eval '[ $RC -eq 0 ] && is ".previousState == \"running\""'
kata_with env PATH="$WORK/nowhere" "$ALONE/kata-passt-endpoint" attach --index 6 --dir "$RUN"
check "with no passt beside it or on PATH: exit 4, passt-not-found, no files" \
    eval '[ $RC -eq 4 ] && is ".ok == false and .error == \"passt-not-found\"" && [ -z "$(ls -A "$RUN")" ]'

echo "3. a second attach, --replace, SIGKILL, PIDs that are not ours"
kata attach --index 5 --dir "$RUN"
FIRST=$(field .pid)
kata attach --index 5 --dir "$RUN"
check "a second attach of index 5: exit 1, already-running, naming the first passt's PID" \
    eval '[ $RC -eq 1 ] && is --argjson pid "$FIRST" ".ok == false and .error == \"already-running\" and .exitCode == 1 and .pid == \$pid"'
check "... with a message on stderr" grep -q "already serves index 5.*--replace" <<<"$ERR"
check "... the first passt still runs, its PID file unchanged, its socket serving" \
    eval 'lab_alive "$FIRST" && [ "$(cat "$RUN/kata-passt-5.pid")" = "$FIRST" ] && dhcp_offer "$RUN/kata-passt-5.socket"'
kata attach --index 5 --dir "$RUN" --replace
SECOND=$(field .pid)
check "attach --replace: exit 0, a new passt, replacedPid is the first" \
    eval '[ $RC -eq 0 ] && [ "$SECOND" != "$FIRST" ] && is --argjson old "$FIRST" ".replacedPid == \$old"'
check "... the first is gone, the new one serves" eval 'gone "$FIRST" && lab_alive "$SECOND" && dhcp_offer "$RUN/kata-passt-5.socket"'
kill -9 "$SECOND"; lab_wait_for 20 gone "$SECOND"
kata status --index 5 --dir "$RUN"
check "after kill -9: status says stale (process $SECOND not running, a socket nobody listens on)" \
    eval '[ $RC -eq 0 ] && is --argjson pid "$SECOND" ".state == \"stale\" and .pid == \$pid and (.reason | test(\"not running\")) and (.reason | test(\"nobody listens\"))"'
check "... and changes nothing: both files are still there" eval '[ -f "$RUN/kata-passt-5.pid" ] && [ -S "$RUN/kata-passt-5.socket" ]'
kata attach --index 5 --dir "$RUN"
THIRD=$(field .pid)
check "a new attach succeeds, saying what stale files it removed" \
    eval '[ $RC -eq 0 ] && is ".cleanedStale | test(\"not running\")" && lab_alive "$THIRD" && dhcp_offer "$RUN/kata-passt-5.socket"'
kata detach --index 5 --dir "$RUN"

start_other sleep
echo "$OTHER" >"$RUN/kata-passt-6.pid"
kata status --index 6 --dir "$RUN"
check "a PID file naming a live sleep: status stale, 'is not passt'" \
    eval '[ $RC -eq 0 ] && is --argjson pid "$OTHER" ".state == \"stale\" and .pid == \$pid and (.reason | test(\"is not passt\"))"'
kata detach --index 6 --dir "$RUN"
check "... detach: exit 0, removes the stale PID file, sleep is left alone" \
    eval '[ $RC -eq 0 ] && is ".previousState == \"stale\" and (.message | test(\"nothing was running\"))" && [ ! -e "$RUN/kata-passt-6.pid" ] && lab_alive "$OTHER"'
echo "$OTHER" >"$RUN/kata-passt-6.pid"
kata attach --index 6 --dir "$RUN"
check "... attach over it: exit 0, a real passt, sleep still alive" \
    eval '[ $RC -eq 0 ] && [ "$(field .pid)" != "$OTHER" ] && lab_alive "$OTHER" && is ".cleanedStale | test(\"is not passt\")"'
kata detach --index 6 --dir "$RUN"
check "... detach stops that passt, sleep still alive" eval '[ $RC -eq 0 ] && is ".signal == \"SIGQUIT\"" && lab_alive "$OTHER"'
start_other passt
echo "$OTHER" >"$RUN/kata-passt-6.pid"
kata status --index 6 --dir "$RUN"
check "a PID file naming a program called passt without this endpoint's files: stale" \
    eval 'is ".state == \"stale\" and (.reason | test(\"for another endpoint\"))"'
kata detach --index 6 --dir "$RUN"
check "... detach leaves it alive" eval '[ $RC -eq 0 ] && lab_alive "$OTHER"'
start_other 'x) Z (y'
echo "$OTHER" >"$RUN/kata-passt-6.pid"
kata status --index 6 --dir "$RUN"
check "a process named 'x) Z (y' is read as alive and not passt (its stat line's name is skipped whole)" \
    eval 'is ".state == \"stale\" and (.reason | test(\"is not passt\"))"'
kata detach --index 6 --dir "$RUN"
kata attach --index 7 --dir "$RUN"
P7=$(field .pid)
echo "$P7" >"$RUN/kata-passt-8.pid"
kata status --index 8 --dir "$RUN"
check "a PID file naming the passt of another index: stale" eval 'is ".state == \"stale\" and (.reason | test(\"another endpoint\"))"'
kata detach --index 8 --dir "$RUN"
check "... detach of index 8 leaves index 7's passt running" eval '[ $RC -eq 0 ] && lab_alive "$P7" && accepts "$RUN/kata-passt-7.socket"'
kata detach --index 7 --dir "$RUN"

echo "malformed PID files (status says stale, nothing is signalled)"
# Each row: a name | printf format of the file's contents.
while IFS='|' read -r name format; do
    [ -n "$name" ] || continue
    # shellcheck disable=SC2059
    printf -- "$format" >"$RUN/kata-passt-9.pid"
    kata status --index 9 --dir "$RUN"
    check "PID file $name: status exit 0, stale, malformed" \
        eval '[ $RC -eq 0 ] && is ".state == \"stale\" and .pid == null and (.reason | test(\"malformed\"))"'
done <<'ROWS'
empty|
garbage|abc\n
negative (kill(-1) would signal everything)|-1\n
zero (kill(0) would signal our group)|0\n
huge|99999999999999999999\n
above PID_MAX_LIMIT|4194305\n
two numbers|12 34\n
two lines|1234\n5678\n
leading zero|0042\n
leading space| 42\n
binary|\x01\x02\xff\n
ROWS
head -c 100000 /dev/zero | tr '\0' '1' >"$RUN/kata-passt-9.pid"
kata status --index 9 --dir "$RUN"
check "PID file of 100000 digits: stale, malformed (read with a bound)" eval '[ $RC -eq 0 ] && is "(.reason | test(\"longer than\"))"'
kata attach --index 9 --dir "$RUN"
check "attach over a malformed PID file: exit 0, the file replaced by passt's" \
    eval '[ $RC -eq 0 ] && [ "$(cat "$RUN/kata-passt-9.pid")" = "$(field .pid)" ]'
kata detach --index 9 --dir "$RUN"
start_other sleep
echo "$OTHER" >"$WORK/elsewhere.pid"
ln -s "$WORK/elsewhere.pid" "$RUN/kata-passt-9.pid"
kata status --index 9 --dir "$RUN"
check "a PID file that is a symbolic link is not followed: stale" \
    eval 'is ".state == \"stale\" and .pid == null and (.reason | test(\"symbolic link\"))"'
kata attach --index 9 --dir "$RUN"
check "... attach removes the link, not its target, and leaves the process it names alone" \
    eval '[ $RC -eq 0 ] && [ -f "$WORK/elsewhere.pid" ] && [ ! -L "$RUN/kata-passt-9.pid" ] && lab_alive "$OTHER"'
kata detach --index 9 --dir "$RUN"

echo "files in the way"
mkdir "$RUN/kata-passt-10.pid"
kata attach --index 10 --dir "$RUN"
check "a directory at the PID file path: attach exit 8, in-the-way, directory kept" \
    eval '[ $RC -eq 8 ] && is ".error == \"in-the-way\"" && [ -d "$RUN/kata-passt-10.pid" ] && [ ! -e "$RUN/kata-passt-10.socket" ]'
kata detach --index 10 --dir "$RUN"
check "... detach exit 8 as well" eval '[ $RC -eq 8 ] && is ".error == \"in-the-way\""'
rmdir "$RUN/kata-passt-10.pid"
echo keep >"$RUN/kata-passt-11.socket"
kata attach --index 11 --dir "$RUN"
check "a regular file at the socket path: attach exit 8, the file kept, no PID file" \
    eval '[ $RC -eq 8 ] && is ".error == \"in-the-way\"" && [ "$(cat "$RUN/kata-passt-11.socket")" = keep ] && [ ! -e "$RUN/kata-passt-11.pid" ]'
rm -f "$RUN/kata-passt-11.socket"
# Not through in_host: a backgrounded function would leave $! naming a subshell rather than python.
ip netns exec "$LAB_HOST" python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); time.sleep(300)' \
    "$RUN/kata-passt-12.socket" &
LISTENER=$!; lab_track_pid "$LISTENER"
lab_wait_for 50 accepts "$RUN/kata-passt-12.socket"
kata attach --index 12 --dir "$RUN"
check "a socket another process listens on (no PID file): attach exit 8, socket and listener kept" \
    eval '[ $RC -eq 8 ] && is ".error == \"in-the-way\"" && accepts "$RUN/kata-passt-12.socket" && lab_alive "$LISTENER"'
kill "$LISTENER"; wait "$LISTENER" 2>/dev/null; rm -f "$RUN/kata-passt-12.socket"

echo "4. bad input"
BAD="$WORK/bad"; mkdir "$BAD" "$WORK/ro"; : >"$WORK/regular-file"
LONG="$WORK/$(printf 'd%.0s' $(seq 1 100))"; mkdir "$LONG"
# Each row: exit status | error | arguments (word-split; BAD, WORK and LONG are replaced).
while IFS='|' read -r status error arguments; do
    [ -n "$status" ] || continue
    args=${arguments//BAD/$BAD}; args=${args//WORK/$WORK}; args=${args//LONG/$LONG}
    # shellcheck disable=SC2086
    kata $args
    check "kata-passt-endpoint $arguments: exit $status, JSON error $error, message on stderr" \
        eval '[ $RC -eq $status ] && is --arg e "$error" --argjson c "$status" ".ok == false and .error == \$e and .exitCode == \$c and (.message | length > 0)" && [ -n "$ERR" ]'
done <<'ROWS'
2|usage|
2|usage|bogus --index 1
2|usage|attach
2|usage|attach --index
2|usage|attach --index abc
2|usage|attach --index -1
2|usage|attach --index 99999999999999999999
2|usage|attach --index 65536
2|usage|attach --index 1 --index 2
2|usage|attach --index 1 --bogus
2|usage|attach --index 1 stray
2|usage|attach --index 1 --mac zz:00:00:00:00:01
2|usage|attach --index 1 --mac 01:00:5e:00:00:01
2|usage|attach --index 1 --mac +2:00:00:00:00:01
2|usage|attach --index 1 --timeout 0
2|usage|status --index 1 --replace
2|usage|detach --index 1 -- -t 80
2|usage|attach --index 1 --dir BAD -- -f
2|usage|attach --index 1 --dir BAD -- -qf
2|usage|attach --index 1 --dir BAD -- -1
2|usage|attach --index 1 --dir BAD -- -P BAD/x.pid
2|usage|attach --index 1 --dir BAD -- --socket=BAD/x.socket
2|usage|attach --index 1 --dir BAD -- --one
2|usage|attach --index 1 --dir BAD -- --fd 3
3|bad-directory|attach --index 1 --dir WORK/nonexistent
3|bad-directory|attach --index 1 --dir WORK/regular-file
3|bad-directory|attach --index 1 --dir /proc/self
3|bad-directory|attach --index 1 --dir LONG
3|bad-directory|detach --index 1 --dir WORK/nonexistent
3|bad-directory|status --index 1 --dir WORK/nonexistent
5|passt-failed|attach --index 1 --dir BAD -- --bogus
5|passt-failed|attach --index 1 --dir BAD -- -t 0
5|passt-failed|attach --index 1 --dir BAD -- -m 70000
5|passt-failed|attach --index 1 --dir BAD -- -T 80
ROWS
kata attach --index 1 --dir "$BAD" -- --bogus
check "passt's own message and status are in the JSON" \
    is '.passtStatus == 1 and (.passtOutput | test("unrecognized option .--bogus")) and (.message | test("unrecognized option"))'
out=$(in_host unshare -m sh -c 'mount --bind -o ro "$1" "$1" && exec "$2" attach --index 1 --dir "$1"' sh "$WORK/ro" "$KATA" 2>/dev/null)
RC=$?; OUT=$out
check "a read-only --dir (bind mount): exit 3, bad-directory, not writable" \
    eval '[ $RC -eq 3 ] && is ".error == \"bad-directory\" and (.message | test(\"not writable\"))" && [ -z "$(ls -A "$WORK/ro")" ]'
check "no passt left running from the bad input" eval '! pgrep -f -- "$BAD/" >/dev/null'
check "no files left from the bad input" eval '[ -z "$(ls -A "$BAD")" ]'
kata --help
check "--help: exit 0, lists exit codes 1 to 9 with their names" \
    eval '[ $RC -eq 0 ] && grep -q "^ *1  already-running" <<<"$OUT" && grep -q "^ *9  busy" <<<"$OUT"'

echo "a passt that misbehaves (a stand-in script next to a copy of the helper)"
FAKE="$WORK/fake"; mkdir "$FAKE"; cp "$KATA" "$FAKE/"
cat >"$FAKE/passt" <<'SCRIPT'
#!/bin/sh
# $1 $2 $3 $4 are -P PIDFILE -s SOCKET.
case "$FAKE_MODE" in
hang) echo $$ >"$FAKE_DIR/hang.pid"; exec sleep 60 ;;
silent) exit 0 ;;
foreign) echo "$FAKE_OTHER" >"$2"; exit 0 ;;
fail) echo "fake passt: bad option" >&2; exit 3 ;;
esac
SCRIPT
chmod +x "$FAKE/passt"
start_other sleep
fake() { kata_with env FAKE_MODE="$1" FAKE_DIR="$FAKE" FAKE_OTHER="$OTHER" "$FAKE/kata-passt-endpoint" attach --index 13 --dir "$RUN" --timeout 1; }
fake hang
check "a passt that never returns: exit 5 after --timeout 1, and it is killed" \
    eval '[ $RC -eq 5 ] && is ".error == \"passt-failed\" and (.message | test(\"did not return within 1 s\"))" && gone "$(cat "$FAKE/hang.pid")"'
fake silent
check "a passt that returns 0 without a PID file: exit 6, passt-not-ready" \
    eval '[ $RC -eq 6 ] && is ".error == \"passt-not-ready\""'
fake foreign
check "a PID file naming sleep after a 0 return: exit 6, sleep alive, PID file removed" \
    eval '[ $RC -eq 6 ] && is ".error == \"passt-not-ready\" and .pid == $OTHER" && lab_alive "$OTHER" && [ ! -e "$RUN/kata-passt-13.pid" ]'
fake fail
check "a passt that exits 3: exit 5 with its message" \
    eval '[ $RC -eq 5 ] && is ".passtStatus == 3 and (.message | test(\"fake passt: bad option\"))"'
check "no files left in the directory by all of this" eval '[ -z "$(ls -A "$RUN")" ]'

echo "Kata's own call, through contrib/kata/passt-shim.sh installed as passt"
SHIM="$WORK/shim"; mkdir "$SHIM"; cp "$here/../contrib/kata/passt-shim.sh" "$SHIM/passt"
# kata_runtime_passt ENDPOINT ARGS...: runs "passt" from PATH as the runtime does; sets RC.
kata_runtime_passt() {
    local endpoint="$1"; shift
    in_host env KATA_PASST_ENDPOINT="$endpoint" PATH="$SHIM:/usr/bin:/bin" passt "$@" >/dev/null 2>"$WORK/stderr"
    RC=$?; ERR=$(cat "$WORK/stderr")
}
SPID="$RUN/kata-passt-14.pid"; SSOCK="$RUN/kata-passt-14.socket"
kata_runtime_passt "$KATA" -P "$SPID" -s "$SSOCK"
SHIM_PID=$(cat "$SPID" 2>/dev/null); [ -n "$SHIM_PID" ] && lab_track_pid "$SHIM_PID"
check "passt -P DIR/kata-passt-14.pid -s DIR/kata-passt-14.socket: exit 0, the PID file names our passt" \
    eval '[ $RC -eq 0 ] && lab_alive "${SHIM_PID:-none}" && [ "$(readlink -f /proc/$SHIM_PID/exe)" = "$(readlink -f "$PASTA")" ]'
check "... the attach answer went to stderr, and the socket serves a DHCP offer" \
    eval 'grep -q "\"command\":\"attach\"" <<<"$ERR" && dhcp_offer "$SSOCK"'
kill -QUIT "$SHIM_PID"  # the runtime's own detach
lab_wait_for 10 gone "$SHIM_PID"
kata_runtime_passt "$KATA" -P "$SPID" -s "$SSOCK"
SHIM_PID2=$(cat "$SPID" 2>/dev/null); [ -n "$SHIM_PID2" ] && lab_track_pid "$SHIM_PID2"
check "after the runtime's SIGQUIT, the next call clears the PID file left behind and starts a new passt" \
    eval '[ $RC -eq 0 ] && [ "$SHIM_PID2" != "$SHIM_PID" ] && lab_alive "$SHIM_PID2" && grep -q "cleanedStale\":\"[^\"]*not running" <<<"$ERR"'
kata detach --index 14 --dir "$RUN"
check "... which kata-passt-endpoint detach stops" eval '[ $RC -eq 0 ] && gone "$SHIM_PID2" && [ -z "$(ls -A "$RUN")" ]'
kata_runtime_passt "$KATA" -s "$SSOCK"
check "a call that is not Kata's form: exit 1 with a message, nothing started" \
    eval '[ $RC -eq 1 ] && grep -q "expected Kata.s call" <<<"$ERR" && [ -z "$(ls -A "$RUN")" ]'
kata_runtime_passt "$KATA" -P "$RUN/kata-passt-x.pid" -s "$RUN/kata-passt-x.socket"
check "a PID file name without an index: exit 1, nothing started" eval '[ $RC -eq 1 ] && [ -z "$(ls -A "$RUN")" ]'
kata_runtime_passt "$ALONE/kata-passt-endpoint" -P "$SPID" -s "$SSOCK"
check "a helper with no passt beside it finds the shim on PATH: the shim refuses to loop, exit 5, nothing left" \
    eval '[ $RC -eq 5 ] && grep -q "runs this shim as its passt" <<<"$ERR" && [ -z "$(ls -A "$RUN")" ]'
finish
