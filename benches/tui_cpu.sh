#!/usr/bin/env bash
# CPU of `rogue-hunter tui` as a user runs it: a real daemon sampling at 3 Hz (the default
# config), a busy helper, the dashboard in a 120x40 tmux pane. Three phases of DURATION
# seconds each (default 60): live, paused (`p`: still receiving, not drawing), and
# disconnected (daemon stopped: reconnect countdown). For each: CPU as % of one core from
# /proc/PID/stat (utime+stime) deltas, and context switches per second summed over the
# dashboard's threads (how often it wakes up).
#
# Run from the repository root: benches/tui_cpu.sh [DURATION]. Needs tmux. Builds release.
set -euo pipefail

DURATION=${1:-60}
cargo build --release --workspace --bins --quiet
BIN=$PWD/target/release/rogue-hunter
HELPER=$PWD/target/release/rogue-hunter-test-helper
TICK=$(getconf CLK_TCK)

tmp=$(mktemp -d)
export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data \
    XDG_STATE_HOME=$tmp/state XDG_RUNTIME_DIR=$tmp/run
unset ROGUE_HUNTER_CONFIG NO_COLOR || true
mkdir -m 700 "$tmp/run"
tmux_() { tmux -S "$tmp/tmux.sock" "$@"; }

daemon_pid=""
helper_pid=""
cleanup() {
    tmux_ kill-server 2>/dev/null || true
    [ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null || true
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

"$BIN" daemon >"$tmp/daemon.out" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
    [ -S "$tmp/run/rogue-hunter/daemon.sock" ] && break
    sleep 0.1
done
"$HELPER" busy --threads 1 --timeout $((DURATION * 4 + 60)) >/dev/null &
helper_pid=$!

tmux_ -f /dev/null new-session -d -s m -x 120 -y 40 "$BIN tui"
tui=$(tmux_ display-message -p -t m '#{pane_pid}')
sleep 5

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$tui/stat"; }
switches() {
    cat /proc/"$tui"/task/*/status |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { s += $2 } END { print s }'
}
measure() {
    local name=$1 t0 s0 t1 s1
    t0=$(cpu_ticks) s0=$(switches)
    sleep "$DURATION"
    t1=$(cpu_ticks) s1=$(switches)
    awk -v n="$name" -v dt=$((t1 - t0)) -v ds=$((s1 - s0)) -v hz="$TICK" -v d="$DURATION" \
        'BEGIN { printf "%-13s cpu %6.3f %% of one core   %7.1f context switches/s\n", n, 100 * dt / hz / d, ds / d }'
}

echo "rogue-hunter tui: ${DURATION}s per phase, $(nproc) CPUs, $(uname -r)"
tmux_ capture-pane -p -t m | grep -q "● live" || { echo "dashboard not live:"; tmux_ capture-pane -p -t m; exit 1; }
measure live
tmux_ send-keys -t m p
measure paused
tmux_ send-keys -t m p
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
sleep 2
measure disconnected
tmux_ send-keys -t m q
