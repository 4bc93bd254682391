#!/usr/bin/env bash
# passt --vhost-user against a hostile frontend: vhost_user_hostile.py plays each of its cases (bad
# headers and payload sizes, features not offered, bad memory tables, memory past a memfd's end, bad ring
# set-ups, descriptor chains that loop or point outside memory, stray descriptors, unknown requests,
# floods, kicks on eventfds passt let go of). After each one passt must have reacted as the case expects
# (refused: closed the connection or answered REPLY_ACK with an error; or ignored it safely), must still
# run, and must serve a good frontend (bench/vhost_user_frontend --check). At the end its log holds no
# crash and it holds no more descriptors than before the cases.
#
#   PASST=/path/to/passt bash integration/test_vhost_user_hostile.sh
#
# PASST defaults to ours: the passt link next to $PASTA. A passt that dies is restarted, so that the cases
# after it still run; each death fails that case.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 gcc
PASST="${PASST:-$(dirname "${PASTA:-$here/../.build/release/pasta}")/passt}"
HOSTILE="$here/vhost_user_hostile.py"
lab_begin
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
# passt started as root runs as nobody once sandboxed: its socket's directory must be open to it.
chmod 711 "$WORK"; mkdir -m 1777 "$WORK/run"
SOCKET="$WORK/run/passt.socket"
LOG="$WORK/passt.log"
FRONTEND="$WORK/vhost_user_frontend"
T_START=$(now_ms)

echo "1. passt --vhost-user and a good frontend"
check "bench/vhost_user_frontend.c builds" gcc -O2 -Wall -o "$FRONTEND" "$here/../bench/vhost_user_frontend.c"
[ -x "$FRONTEND" ] || { finish; exit; }

# start_passt: passt -f (no daemon) as a background job, logging (-d) to $LOG; `ip netns exec` execs
# passt, so $! is passt itself.
start_passt() {
    ip netns exec "$LAB_HOST" "$PASST" --vhost-user -f -d -s "$SOCKET" -D none -S none >>"$LOG" 2>&1 &
    PASST_PID=$!
    lab_track_pid "$PASST_PID"
    lab_wait_for 50 test -S "$SOCKET" && lab_alive "$PASST_PID"
}
# good_client: the frontend negotiates, starts both rings and stops them. passt serves one frontend at a
# time: one just gone may not have been noticed yet, so a refusal is retried for up to a second.
good_client() {
    local try
    for try in 1 2 3 4 5; do
        lab_in "$LAB_HOST" "$FRONTEND" --check x "$SOCKET" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
descriptors() { ls "/proc/$PASST_PID/fd" 2>/dev/null | wc -l; }
mappings() { wc -l <"/proc/$PASST_PID/maps" 2>/dev/null; }
# settled FUNCTION: its count once two readings 50 ms apart agree (a frontend just gone is let go of).
settled() {
    local before after try
    before=$("$1")
    for try in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.05
        after=$("$1")
        [ "$after" = "$before" ] && break
        before=$after
    done
    echo "$after"
}

check "passt --vhost-user -f -d -s SOCKET starts and listens" start_passt
lab_alive "$PASST_PID" || { sed 's/^/    passt: /' "$LOG" | tail -n 20; finish; exit; }
check "a good frontend negotiates, starts and stops both rings" good_client

echo "2. hostile cases"
mapfile -t CASES < <(python3 "$HOSTILE" --list)
check "vhost_user_hostile.py has at least 30 cases (${#CASES[@]})" [ "${#CASES[@]}" -ge 30 ]
DEATHS=()
# Growth of passt's descriptors and mappings over the cases, summed over the passts that ran them (one
# that dies is measured up to the case before).
FDS_GROWTH=0; MAPS_GROWTH=0
FDS_BASE=$(settled descriptors); MAPS_BASE=$(settled mappings)
for name in "${CASES[@]}"; do
    FDS_LAST=$(settled descriptors); MAPS_LAST=$(mappings)
    out=$(lab_in "$LAB_HOST" timeout 30 python3 "$HOSTILE" --pid "$PASST_PID" "$SOCKET" "$name" 2>&1)
    rc=$?
    check "${out:-$name: no output} (status $rc)" [ "$rc" -eq 0 ]
    check "... passt still runs" lab_alive "$PASST_PID"
    if ! lab_alive "$PASST_PID"; then
        DEATHS+=("$name")
        FDS_GROWTH=$((FDS_GROWTH + FDS_LAST - FDS_BASE)); MAPS_GROWTH=$((MAPS_GROWTH + MAPS_LAST - MAPS_BASE))
        wait "$PASST_PID" 2>/dev/null
        echo "    passt exited with status $?; restarting it for the next cases"
        start_passt || { fail "passt restarts"; break; }
        FDS_BASE=$(settled descriptors); MAPS_BASE=$(settled mappings)
        continue
    fi
    check "... a good frontend is served after it" good_client
done

echo "3. afterwards"
check "no case killed passt${DEATHS[*]:+ (died on: ${DEATHS[*]})}" [ "${#DEATHS[@]}" -eq 0 ]
check "passt's log shows no crash or fatal error" eval '! grep -Eiq "fatal|crash|trap|backtrace|bad system call" "$LOG"'
FDS_GROWTH=$((FDS_GROWTH + $(settled descriptors) - FDS_BASE)); MAPS_GROWTH=$((MAPS_GROWTH + $(settled mappings) - MAPS_BASE))
check "passt's descriptors did not pile up over the cases (grew by $FDS_GROWTH)" [ "$FDS_GROWTH" -le 3 ]
check "nor its memory mappings (grew by $MAPS_GROWTH)" [ "$MAPS_GROWTH" -le 8 ]
check "a good frontend is served at the end" good_client
check "passt exits on SIGTERM" lab_stop "$PASST_PID"
elapsed=$(( $(now_ms) - T_START ))
check "all of it within 100 s (${elapsed} ms)" [ "$elapsed" -le 100000 ]
if [ "$CHECKS_FAILED" -gt 0 ]; then
    grep -E "^guest: |^vhost-user: " "$LOG" | grep -v "closed the connection$" | tail -n 20 | sed 's/^/    passt: /'
fi
finish
