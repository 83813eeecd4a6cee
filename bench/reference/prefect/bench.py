"""Prefect 3 baseline for the Trellis engine benchmark.

Expects a Prefect server at PREFECT_API_URL and a `serve.py` runner serving
`trellis-3step/bench` and `trellis-sleeper/bench` (run.sh starts both).

Phases
  1. warm-up:   WARMUP runs of the 3-step flow (not measured)
  2. measure:   N runs, CONCURRENCY runs outstanding (created, not yet terminal)
                - throughput = N / (first create sent -> last COMPLETED observed)
                - latency per run = create call sent -> first poll that sees COMPLETED
                  (one batched read_flow_runs poll every POLL_MS ms for all
                  outstanding runs, so polling cost does not grow with concurrency)
  3. cancel:    CANCEL_TRIALS sequential trials, under the same background load:
                create sleeper run -> wait until RUNNING -> set state CANCELLING
                -> time until the API first reports CANCELLED.
Prints one line: `RESULT {json}`.
"""
import asyncio
import json
import os
import statistics
import sys
import time
import uuid

import httpx

from prefect import __version__ as PREFECT_VERSION
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.states import Cancelling

# Processes of this benchmark's own venv (server, runner, flow runs).
VENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "venv")

N = int(os.environ.get("N", "200"))
WARMUP = int(os.environ.get("WARMUP", "10"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "16"))
POLL_S = float(os.environ.get("POLL_MS", "50")) / 1000.0
CANCEL_TRIALS = int(os.environ.get("CANCEL_TRIALS", "5"))
RUN_TIMEOUT_S = float(os.environ.get("RUN_TIMEOUT_S", "300"))
API = os.environ.get("PREFECT_API_URL", "http://127.0.0.1:4200/api")

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def cpu_times():
    """Per-cpu (busy, total) jiffies from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                parts = line.split()
                vals = list(map(int, parts[1:]))
                idle = vals[3] + vals[4]
                out[parts[0]] = (sum(vals) - idle, sum(vals))
    return out


def proc_cpu():
    """CPU seconds (own + reaped children) of our Prefect processes, by role.
    Summing own+cutime over live processes is conserved when a child is reaped
    by a tracked parent, so end-start deltas count short-lived flow-run
    subprocesses too."""
    hz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            if VENV not in cmd:
                continue
            with open(f"/proc/{pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        secs = sum(int(x) for x in st[11:15]) / hz  # utime stime cutime cstime
        role = "server" if ("server start" in cmd or "uvicorn" in cmd) else "runner_and_flow_runs"
        out[int(pid)] = (role, secs)
    return out


def proc_cpu_delta(a, b, wall):
    roles = {}
    for pid, (role, secs) in b.items():
        roles[role] = roles.get(role, 0.0) + secs
    for pid, (role, secs) in a.items():
        roles[role] = roles.get(role, 0.0) - secs
    return {r: {"cpu_s": round(v, 1), "core_share_pct": round(100 * v / wall, 1)}
            for r, v in roles.items()}


def self_cpu():
    t = os.times()
    return t.user + t.system


def cpu_util(a, b):
    return {
        c: round(100.0 * (b[c][0] - a[c][0]) / max(1, b[c][1] - a[c][1]), 1)
        for c in a
    }


class Tracker:
    """One batched poller for all outstanding runs."""

    def __init__(self, client):
        self.client = client
        self.pending = {}  # id -> (t_sent, future)
        self.polls = 0
        self.poll_errors = 0

    def watch(self, run_id, t_sent):
        fut = asyncio.get_running_loop().create_future()
        self.pending[run_id] = (t_sent, fut)
        return fut

    async def loop(self, stop: asyncio.Event):
        while not stop.is_set():
            ids = list(self.pending)
            if ids:
                try:
                    runs = await self.client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                        limit=len(ids),
                    )
                    self.polls += 1
                except Exception as e:  # noqa: BLE001
                    self.poll_errors += 1
                    print(f"poll error: {e!r}", file=sys.stderr)
                    runs = []
                now = time.perf_counter()
                for r in runs:
                    st = r.state.type.value if r.state else None
                    if st in TERMINAL and r.id in self.pending:
                        t_sent, fut = self.pending.pop(r.id)
                        if not fut.done():
                            fut.set_result((st, now - t_sent, r))
            await asyncio.sleep(POLL_S)


async def one_run(client, tracker, dep_id, i):
    t_sent = time.perf_counter()
    fr = await client.create_flow_run_from_deployment(dep_id, parameters={"n": i})
    fut = tracker.watch(fr.id, t_sent)
    try:
        st, lat, r = await asyncio.wait_for(fut, RUN_TIMEOUT_S)
    except asyncio.TimeoutError:
        tracker.pending.pop(fr.id, None)
        return {"id": fr.id, "state": "TIMEOUT", "lat": None, "t_sent": t_sent,
                "t_done": time.perf_counter()}
    return {"id": fr.id, "state": st, "lat": lat, "t_sent": t_sent,
            "t_done": t_sent + lat}


async def load(client, tracker, dep_id, n, concurrency, stop=None):
    """Run `n` flow runs (or until `stop` is set if n is None) with
    `concurrency` outstanding at any time."""
    results = []
    counter = iter(range(10**9))
    lock = asyncio.Lock()

    async def worker():
        while True:
            if stop is not None and stop.is_set():
                return
            async with lock:
                i = next(counter)
                if n is not None and i >= n:
                    return
            results.append(await one_run(client, tracker, dep_id, i))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def wait_server():
    deadline = time.time() + 120
    async with httpx.AsyncClient() as h:
        while time.time() < deadline:
            try:
                if (await h.get(f"{API}/health", timeout=2)).status_code == 200:
                    return
            except Exception:  # noqa: BLE001
                pass
            await asyncio.sleep(0.5)
    raise SystemExit("server not healthy after 120 s")


async def wait_deployment(client, name):
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            return await client.read_deployment_by_name(name)
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.5)
    raise SystemExit(f"deployment {name} not found after 120 s")


async def cancel_trial(client, dep_id):
    fr = await client.create_flow_run_from_deployment(dep_id)
    t_created = time.perf_counter()
    # wait until RUNNING (observed), then give the task a moment to enter sleep
    while True:
        r = await client.read_flow_run(fr.id)
        if r.state and r.state.type.value == "RUNNING":
            break
        if r.state and r.state.type.value in TERMINAL:
            return {"error": f"sleeper ended early: {r.state.type.value}"}
        if time.perf_counter() - t_created > 180:
            return {"error": "sleeper never reached RUNNING"}
        await asyncio.sleep(POLL_S)
    t_running = time.perf_counter()
    await asyncio.sleep(1.0)
    t0 = time.perf_counter()
    await client.set_flow_run_state(fr.id, Cancelling())
    final = None
    while time.perf_counter() - t0 < 120:
        r = await client.read_flow_run(fr.id)
        st = r.state.type.value if r.state else None
        if st in TERMINAL:
            final = st
            break
        await asyncio.sleep(POLL_S)
    t1 = time.perf_counter()
    return {
        "final_state": final or "TIMEOUT",
        "cancel_latency_s": round(t1 - t0, 3) if final else None,
        "create_to_running_s": round(t_running - t_created, 3),
    }


async def main():
    await wait_server()
    async with get_client() as client:
        dep = await wait_deployment(client, "trellis-3step/bench")
        sleep_dep = await wait_deployment(client, "trellis-sleeper/bench")
        tracker = Tracker(client)
        stop_poll = asyncio.Event()
        poller = asyncio.create_task(tracker.loop(stop_poll))

        # 1. warm-up
        t = time.perf_counter()
        warm = await load(client, tracker, dep.id, WARMUP, min(CONCURRENCY, WARMUP))
        warm_fail = sum(1 for r in warm if r["state"] != "COMPLETED")
        print(f"warm-up: {WARMUP} runs in {time.perf_counter()-t:.1f}s, "
              f"{warm_fail} not completed", file=sys.stderr)

        # 2. measured phase
        c0 = cpu_times()
        p0, s0, la0 = proc_cpu(), self_cpu(), os.getloadavg()
        t_start = time.perf_counter()
        res = await load(client, tracker, dep.id, N, CONCURRENCY)
        c1 = cpu_times()
        p1, s1, la1 = proc_cpu(), self_cpu(), os.getloadavg()
        t_meas = time.perf_counter() - t_start
        ok = [r for r in res if r["state"] == "COMPLETED"]
        failed = [r for r in res if r["state"] != "COMPLETED"]
        first_sent = min(r["t_sent"] for r in res)
        last_done = max(r["t_done"] for r in res)
        wall = last_done - first_sent
        lats = [r["lat"] for r in ok]
        # server-side view (created -> start_time -> end_time) for the completed runs
        srv_e2e, srv_queue, srv_exec = [], [], []
        ids = [r["id"] for r in ok]
        for k in range(0, len(ids), 200):
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids[k:k+200])),
                limit=200)
            for fr in runs:
                if fr.end_time and fr.created and fr.start_time:
                    srv_e2e.append((fr.end_time - fr.created).total_seconds())
                    srv_queue.append((fr.start_time - fr.created).total_seconds())
                    srv_exec.append((fr.end_time - fr.start_time).total_seconds())
        print(f"measure: {len(ok)}/{N} completed in {wall:.1f}s", file=sys.stderr)

        # 3. cancel latency under the same background load
        cancels = []
        if CANCEL_TRIALS > 0:
            stop_bg = asyncio.Event()
            bg = asyncio.create_task(
                load(client, tracker, dep.id, None, CONCURRENCY, stop=stop_bg))
            await asyncio.sleep(2.0)
            c2 = cpu_times()
            for k in range(CANCEL_TRIALS):
                ct = await cancel_trial(client, sleep_dep.id)
                print(f"cancel trial {k}: {ct}", file=sys.stderr)
                cancels.append(ct)
            c3 = cpu_times()
            stop_bg.set()
            bg_res = await bg
            bg_fail = sum(1 for r in bg_res if r["state"] != "COMPLETED")
        else:
            bg_res, bg_fail, c2, c3 = [], 0, c0, c1

        stop_poll.set()
        await poller

    cl = [c["cancel_latency_s"] for c in cancels if c.get("cancel_latency_s") is not None]
    summary = {
        "engine": "prefect",
        "prefect_version": PREFECT_VERSION,
        "config": {
            "n": N, "warmup": WARMUP, "concurrency": CONCURRENCY,
            "poll_ms": POLL_S * 1000,
            "runner_poll_frequency_s": os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", "10 (default)"),
            "runner_process_limit": os.environ.get("SERVE_LIMIT") or os.environ.get("PREFECT_RUNNER_PROCESS_LIMIT", "5 (default)"),
            "label": os.environ.get("BENCH_LABEL", ""),
        },
        "completed": len(ok),
        "failed": len(failed),
        "failed_states": sorted({r["state"] for r in failed}),
        "wall_s": round(wall, 3),
        "runs_per_s": round(len(ok) / wall, 3),
        "latency_s": {
            "p50": round(pct(lats, 50), 3) if lats else None,
            "p99": round(pct(lats, 99), 3) if lats else None,
            "min": round(min(lats), 3) if lats else None,
            "max": round(max(lats), 3) if lats else None,
            "mean": round(statistics.mean(lats), 3) if lats else None,
        },
        "server_side_s": {
            "created_to_end_p50": round(pct(srv_e2e, 50), 3) if srv_e2e else None,
            "created_to_end_p99": round(pct(srv_e2e, 99), 3) if srv_e2e else None,
            "created_to_start_p50": round(pct(srv_queue, 50), 3) if srv_queue else None,
            "start_to_end_p50": round(pct(srv_exec, 50), 3) if srv_exec else None,
        },
        "cpu_util_pct_measure": cpu_util(c0, c1),
        "cpu_util_pct_cancel_phase": cpu_util(c2, c3),
        "prefect_cpu_measure": proc_cpu_delta(p0, p1, t_meas),
        "loadgen_cpu_measure": {"cpu_s": round(s1 - s0, 1), "core_share_pct": round(100 * (s1 - s0) / t_meas, 1)},
        "loadavg_1m_start_end": [la0[0], la1[0]],
        "cancel": {
            "trials": len(cancels),
            "cancelled": sum(1 for c in cancels if c.get("final_state") == "CANCELLED"),
            "p50_s": round(statistics.median(cl), 3) if cl else None,
            "max_s": round(max(cl), 3) if cl else None,
            "all_s": cl,
            "create_to_running_s": [c.get("create_to_running_s") for c in cancels],
            "errors": [c["error"] for c in cancels if "error" in c],
            "background_runs": len(bg_res),
            "background_failed": bg_fail,
        },
        "tracker_polls": tracker.polls,
        "tracker_poll_errors": tracker.poll_errors,
    }
    print("RESULT " + json.dumps(summary, default=str), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
