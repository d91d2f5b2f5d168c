#!/usr/bin/env python3
"""Daemon benchmarks (BENCHMARKS.md): measures the real release binary from the outside.

  python3 scripts/bench_daemon.py cost      # issue 5: daemon CPU and RSS at 3 Hz and 10 Hz
  python3 scripts/bench_daemon.py captures  # issue 7: tick lateness with and without captures,
                                            # capture wall time per part
  python3 scripts/bench_daemon.py profile   # issue 13: daemon CPU and RSS per profiled capture
                                            # (perf vs /proc stacks), the target's slowdown
  python3 scripts/bench_daemon.py rss       # issue 13: daemon RSS after each of 40 profiled
                                            # captures back to back (1 s profiles)
  python3 scripts/bench_daemon.py compare OTHER_BIN  # 3 Hz cost of this build and another
                                            # (e.g. main's), alternating, 3 rounds each

Build first: cargo build --release --workspace (the script uses target/release/rogue-hunter and
target/release/rogue-hunter-test-helper). Each run uses a fresh temporary XDG environment.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/rogue-hunter")
HELPER = os.path.join(ROOT, "target/release/rogue-hunter-test-helper")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def env_for(tmp):
    e = dict(os.environ)
    for k, sub in [("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                   ("XDG_STATE_HOME", "state"), ("XDG_RUNTIME_DIR", "run")]:
        e[k] = os.path.join(tmp, sub)
    e["HOME"] = tmp
    e.pop("ROGUE_HUNTER_CONFIG", None)
    os.makedirs(os.path.join(tmp, "run"), exist_ok=True)
    return e


def start_helper(*args):
    p = subprocess.Popen([HELPER, *args], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    line = p.stdout.readline().decode().strip()
    assert line == "ready", f"helper {args}: {line!r}"
    return p


def start_daemon(tmp, config, binary=None):
    env = env_for(tmp)
    cfg = os.path.join(tmp, "config/rogue-hunter/config.toml")
    os.makedirs(os.path.dirname(cfg), exist_ok=True)
    with open(cfg, "w") as f:
        f.write(config)
    out = open(os.path.join(tmp, "daemon.out"), "w")
    p = subprocess.Popen([binary or BIN, "daemon"], env=env, stdout=out, stderr=out)
    sock = os.path.join(tmp, "run/rogue-hunter/daemon.sock")
    for _ in range(200):
        if os.path.exists(sock):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
                s.close()
                return p, sock
            except OSError:
                pass
        time.sleep(0.05)
    raise SystemExit("daemon did not start: " + open(os.path.join(tmp, "daemon.out")).read())


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def proc_rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


def cost(interval, seconds, sleepers, binary=None):
    tmp = tempfile.mkdtemp(prefix="rh-bench-")
    crowd = start_helper("sleepers", "--count", str(sleepers))
    d, _ = start_daemon(tmp, f"[system]\nsample_interval = {interval}\n", binary)
    try:
        # Fill the ring buffer (90 samples) before measuring.
        time.sleep(90 * interval + 2)
        c0, t0 = proc_cpu_seconds(d.pid), time.monotonic()
        rss = []
        while time.monotonic() - t0 < seconds:
            time.sleep(1)
            rss.append(proc_rss(d.pid))
        c1, t1 = proc_cpu_seconds(d.pid), time.monotonic()
        procs = len([x for x in os.listdir("/proc") if x.isdigit()])
        return {
            "hz": round(1 / interval, 2),
            "processes": procs,
            "cpu_pct_of_one_core": round(100 * (c1 - c0) / (t1 - t0), 2),
            "rss_mib_median": round(statistics.median(rss) / 2**20, 1),
            "rss_mib_max": round(max(rss) / 2**20, 1),
        }
    finally:
        stop(d)
        crowd.kill()
        crowd.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def heartbeats(tmp):
    out = []
    with open(os.path.join(tmp, "state/rogue-hunter/daemon.log")) as f:
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            out.append(j)
    return out


def lateness(lines, since):
    beats = [j for j in lines if j.get("message") == "♡ heartbeat" and j["timestamp"] >= since]
    if not beats:
        return None
    p50 = statistics.median(float(b["late_p50_ms"]) for b in beats)
    p99 = max(float(b["late_p99_ms"]) for b in beats)
    mx = max(float(b["late_max_ms"]) for b in beats)
    overruns = sum(int(b["overruns"]) for b in beats)
    dropped = sum(int(b["dropped"]) for b in beats)
    return {"windows": len(beats), "p50_ms": p50, "p99_ms_worst_window": p99, "max_ms": mx,
            "overruns": overruns, "dropped": dropped}


def capture_and_wait(f, pid):
    """Asks for a capture of `pid` on the socket file `f` and waits for its `done` notice."""
    f.write(json.dumps({"type": "capture", "pid": pid}).encode() + b"\n")
    f.flush()
    cid = None
    while True:
        m = json.loads(f.readline())
        if m["type"] == "capture_accepted":
            cid = m["capture_id"]
        elif m["type"] == "capture_refused":
            raise SystemExit("capture refused: " + m["reason"])
        elif m["type"] == "capture" and m["capture_id"] == cid and m["state"] == "done":
            return cid


def capture_loop(sock, pid, seconds):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rwb")
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        capture_and_wait(f, pid)
        done += 1
    s.close()
    return done


def captures(seconds, sleepers):
    tmp = tempfile.mkdtemp(prefix="rh-bench-")
    crowd = start_helper("sleepers", "--count", str(sleepers))
    target = start_helper("threads", "--count", "8")
    config = ("[system]\nsample_interval = 0.1\nheartbeat_samples = 100\n"
              "[bands]\ncritical = 99\n[forensics]\nmin_interval_s = 0\n")
    d, sock = start_daemon(tmp, config)
    try:
        time.sleep(12)  # fill the ring buffer (90 samples at 10 Hz) and settle
        quiet_from = time.strftime("%Y-%m-%dT%H:%M:%S")
        time.sleep(seconds)
        busy_from = time.strftime("%Y-%m-%dT%H:%M:%S")
        n = capture_loop(sock, target.pid, seconds)
        time.sleep(11)
        lines = heartbeats(tmp)
        quiet = lateness([j for j in lines if j["timestamp"] < busy_from], quiet_from)
        busy = lateness(lines, busy_from)
        parts = {}
        for j in lines:
            if j.get("message") == "capture done":
                for k in ("total_ms", "buffer_ms", "stacks_ms", "logs_ms"):
                    parts.setdefault(k, []).append(float(j[k]))
        rows = subprocess.run(["sqlite3", os.path.join(tmp, "data/rogue-hunter/data.db"),
                               "SELECT COUNT(*) FROM buffer_sample_processes"],
                              capture_output=True, text=True).stdout.strip()
        return {
            "captures": n,
            "buffer_rows_stored": rows,
            "without_captures": quiet,
            "with_captures": busy,
            "part_ms_median": {k: round(statistics.median(v), 1) for k, v in parts.items()},
            "part_ms_max": {k: round(max(v), 1) for k, v in parts.items()},
        }
    finally:
        stop(d)
        crowd.kill()
        target.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def build_target(tmp):
    """The profiler tests' C program (main -> alpha -> beta -> gamma), built without frame pointers."""
    src = os.path.join(ROOT, "tests/fixtures/profile_target.c")
    out = os.path.join(tmp, "profile_target")
    subprocess.run(["gcc", "-g", "-O1", "-fomit-frame-pointer", "-fno-builtin", "-pthread",
                    "-o", out, src], check=True)
    return out


def start_target(binary, *args):
    p = subprocess.Popen([binary, *args, "--timeout", "900"], stdout=subprocess.PIPE)
    assert p.stdout.readline().decode().strip() == "ready"
    return p


def profile_cost(profile_seconds, captures_wanted, tmp_target):
    """Daemon CPU and RSS over back-to-back captures of a busy 3-thread process."""
    tmp = tempfile.mkdtemp(prefix="rh-bench-")
    target = start_target(tmp_target, "--napper")
    config = ("[system]\nsample_interval = 0.3333\n[bands]\ncritical = 99\n"
              f"[forensics]\nmin_interval_s = 0\nstack_culprits = 0\nprofile_seconds = {profile_seconds}\n")
    d, sock = start_daemon(tmp, config)
    try:
        time.sleep(32)  # fill the ring buffer (90 samples at 3 Hz)
        # Idle rate first, over 20 s.
        c0, t0 = proc_cpu_seconds(d.pid), time.monotonic()
        time.sleep(20)
        idle_rate = (proc_cpu_seconds(d.pid) - c0) / (time.monotonic() - t0)
        rss_before = proc_rss(d.pid)
        # One capture at a time, measuring each.
        per_capture, rss_after, walls = [], [], []
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile("rwb")
        for _ in range(captures_wanted):
            c0, t0 = proc_cpu_seconds(d.pid), time.monotonic()
            capture_and_wait(f, target.pid)
            t1 = time.monotonic()
            cpu = proc_cpu_seconds(d.pid) - c0 - idle_rate * (t1 - t0)
            per_capture.append(cpu)
            walls.append(t1 - t0)
            rss_after.append(proc_rss(d.pid))
        s.close()
        source = subprocess.run(["sqlite3", os.path.join(tmp, "data/rogue-hunter/data.db"),
                                 "SELECT stack_source, COUNT(*) FROM forensic_captures GROUP BY 1"],
                                capture_output=True, text=True).stdout.strip()
        return {
            "profile_seconds": profile_seconds,
            "stack_source": source,
            "captures": captures_wanted,
            "idle_cpu_pct": round(100 * idle_rate, 2),
            "cpu_s_per_capture_median": round(statistics.median(per_capture), 3),
            "cpu_s_per_capture_max": round(max(per_capture), 3),
            "capture_wall_s_median": round(statistics.median(walls), 2),
            "rss_mib_before": round(rss_before / 2**20, 1),
            "rss_mib_after_first": round(rss_after[0] / 2**20, 1),
            "rss_mib_after_last": round(rss_after[-1] / 2**20, 1),
            "rss_mib_max": round(max(rss_after) / 2**20, 1),
        }
    finally:
        stop(d)
        target.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def slowdown(tmp_target, rounds, window):
    """The busy loop's iterations per second of its own CPU time, with and without a profile
    running on it (per CPU second, so other load on the machine does not count; the kernel's
    sampling work happens in the target's time and does)."""
    tmp = tempfile.mkdtemp(prefix="rh-bench-")
    target = subprocess.Popen([tmp_target, "--report", "--timeout", "900"], stdout=subprocess.PIPE)
    assert target.stdout.readline().decode().strip() == "ready"
    config = ("[system]\nsample_interval = 0.3333\n[bands]\ncritical = 99\n"
              "[forensics]\nmin_interval_s = 0\nstack_culprits = 0\n"
              f"profile_seconds = {window}\n")
    d, sock = start_daemon(tmp, config)
    rate = {"without": [], "with": []}

    def measure(seconds):
        c0 = proc_cpu_seconds(target.pid)
        n = sum(int(target.stdout.readline()) for _ in range(seconds))
        return n / max(proc_cpu_seconds(target.pid) - c0, 1e-9)

    try:
        time.sleep(3)
        target.stdout.readline()
        for _ in range(rounds):
            rate["without"].append(measure(window - 2))
            # A capture whose profile lasts `window` s; measured inside it.
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.sendall(json.dumps({"type": "capture", "pid": target.pid}).encode() + b"\n")
            target.stdout.readline()  # the second in which the profile started
            rate["with"].append(measure(window - 3))
            s.close()
            for _ in range(4):  # the rest of the profile and its symbolization
                target.stdout.readline()
        w, wo = statistics.median(rate["with"]), statistics.median(rate["without"])
        return {
            "rounds": rounds,
            "window_s": window,
            "iterations_per_cpu_s_without_median": int(wo),
            "iterations_per_cpu_s_with_median": int(w),
            "ratio_with_over_without": round(w / wo, 4),
            "without_min_max": [int(min(rate["without"])), int(max(rate["without"]))],
            "with_min_max": [int(min(rate["with"])), int(max(rate["with"]))],
        }
    finally:
        stop(d)
        target.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def rss_series(tmp_target, n):
    tmp = tempfile.mkdtemp(prefix="rh-bench-")
    target = start_target(tmp_target, "--napper")
    config = ("[system]\nsample_interval = 0.3333\n[bands]\ncritical = 99\n"
              "[forensics]\nmin_interval_s = 0\nstack_culprits = 0\nprofile_seconds = 1\n")
    d, sock = start_daemon(tmp, config)
    try:
        time.sleep(3)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile("rwb")
        out = [round(proc_rss(d.pid) / 2**20, 1)]
        for _ in range(n):
            capture_and_wait(f, target.pid)
            out.append(round(proc_rss(d.pid) / 2**20, 1))
        s.close()
        return {"rss_mib_after_each_capture": out}
    finally:
        stop(d)
        target.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    for b in (BIN, HELPER):
        if not os.path.exists(b):
            raise SystemExit(f"{b} missing: run `cargo build --release --workspace` first")
    what = sys.argv[1] if len(sys.argv) > 1 else "cost"
    if what == "cost":
        for interval in (1 / 3, 0.1):
            print(json.dumps(cost(interval, 60, 500)))
    elif what == "captures":
        print(json.dumps(captures(60, 300), indent=2))
    elif what == "profile":
        tmp = tempfile.mkdtemp(prefix="rh-target-")
        try:
            binary = build_target(tmp)
            print(json.dumps(profile_cost(0, 10, binary)))
            print(json.dumps(profile_cost(3, 10, binary)))
            print(json.dumps(slowdown(binary, 8, 10)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif what == "rss":
        tmp = tempfile.mkdtemp(prefix="rh-target-")
        try:
            print(json.dumps(rss_series(build_target(tmp), 40)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif what == "compare" and len(sys.argv) > 2:
        other = sys.argv[2]
        runs = {"this": [], "other": []}
        for _ in range(3):
            for name, binary in (("this", BIN), ("other", other)):
                r = cost(1 / 3, 60, 500, binary)
                runs[name].append(r)
                print(json.dumps({"build": name, **r}), flush=True)
        for name, rs in runs.items():
            cpu = statistics.median(r["cpu_pct_of_one_core"] for r in rs)
            rss = statistics.median(r["rss_mib_median"] for r in rs)
            print(json.dumps({"build": name, "cpu_pct_median": cpu, "rss_mib_median": rss}))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
