# apt with bounds: each request times out and is retried a few times, and each call has a deadline, so a
# package mirror that does not answer costs minutes, not the hours of apt's defaults (a silent mirror held
# `apt-get update` for 6 minutes with 20 s timeouts and two retries). Sourced by install-deps.sh.

APT_BOUNDED_OPTS=(-q -o Acquire::Retries=3 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30
                  -o Dpkg::Use-Pty=0)

# apt_bounded SECONDS LOG COMMAND [ARGS...]: runs an apt-get command with those options, stopped after
# SECONDS, its output appended to LOG. Status 124 when the deadline passed (or none was left).
apt_bounded() {
    local seconds="$1" log="$2"; shift 2
    if [ "$seconds" -le 0 ]; then
        echo "apt_bounded: no time left for: $*" >>"$log"
        return 124
    fi
    echo "\$ $* (up to $seconds s)" >>"$log"
    timeout -k 5 "$seconds" "$@" "${APT_BOUNDED_OPTS[@]}" >>"$log" 2>&1 </dev/null
}

# apt_unreachable_line LOG: the first line of LOG that says the mirror did not answer (nothing if none).
# apt-get update exits 0 even then, with "W: Failed to fetch ..." lines.
apt_unreachable_line() {
    grep -m1 -E "Failed to fetch|Could not resolve|Temporary failure resolving|Could not connect|Connection failed|Connection timed out|Unable to connect|Network is unreachable|Unable to fetch some archives|no time left" \
        "$1" | sed -E 's/^[WE]: //; s/ +/ /g'
}
