"""Load on the ingest service from wrk (a separate process) at fixed concurrency, and py-spy."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "report.lua"


@dataclass(frozen=True)
class Scenario:
    """One kind of request sent over and over: which route, which body, events per request."""

    name: str
    method: str
    path: str
    body_file: Path | None
    events_per_request: int
    # Sent with every request, as "Name: value".
    headers: tuple[str, ...] = ()


def parse_wrk_report(output: str, events_per_request: int) -> dict:
    """requests/s, events/s, p50/p99 (ms) and errors from the JSON line of bench/wrk/report.lua."""
    lines = [line for line in output.splitlines() if line.startswith('{"wrk"')]
    if not lines:
        raise ValueError(f"no report line in wrk output:\n{output[-2000:]}")
    report = json.loads(lines[-1])
    seconds = report["duration_us"] / 1e6
    errors = report["status_errors"] + report["socket_errors"] + report["timeouts"]
    good = report["requests"] - report["status_errors"]
    return {
        "requests": report["requests"],
        "requests_per_s": report["requests"] / seconds,
        "events_per_s": good * events_per_request / seconds,
        "p50_ms": report["p50_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "mean_ms": report["mean_us"] / 1000,
        "errors": errors,
    }


def wrk_run(
    base_url: str, scenario: Scenario, connections: int, seconds: float, delay_ms: float = 0
) -> dict:
    """One wrk run of `scenario` against `base_url`; wrk runs in a process of its own.

    `delay_ms` paces each connection (a pause before each request), to load below the peak.
    """
    command = [
        "wrk",
        "--threads", "2",
        "--connections", str(connections),
        "--duration", f"{seconds:g}s",
        "--timeout", "10s",
        "--script", str(WRK_SCRIPT),
        *(word for header in scenario.headers for word in ("--header", header)),
        base_url + scenario.path,
        "--",
        scenario.method,
    ]  # fmt: skip
    command += [str(scenario.body_file) if scenario.body_file else "-", f"{delay_ms:.3f}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return parse_wrk_report(result.stdout, scenario.events_per_request)


def gunicorn_master(port: int) -> int:
    """The pid of the gunicorn master listening on `port` (its workers share the socket)."""
    listeners = {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid
    }
    # The socket is shared: psutil names one of its holders, the master or any worker.
    masters = set()
    for pid in listeners:
        process = psutil.Process(pid)
        while (parent := process.parent()) is not None and _is_gunicorn(parent):
            process = parent
        masters.add(process.pid)
    if len(masters) != 1:
        raise RuntimeError(f"no single gunicorn master on port {port}: {sorted(listeners)}")
    return masters.pop()


def _is_gunicorn(process: psutil.Process) -> bool:
    return any(Path(word).name == "gunicorn" for word in process.cmdline()[:2])


def workers_cpu_seconds(port: int) -> tuple[float, float]:
    """User and system CPU time so far of the gunicorn workers serving `port`."""
    times = [w.cpu_times() for w in psutil.Process(gunicorn_master(port)).children()]
    return sum(t.user for t in times), sum(t.system for t in times)


def thread_kind(name: str) -> str:
    """What runs in a gunicorn worker's thread, by the thread's Python name."""
    if name == "MainThread":
        return "gunicorn's loop"
    if name.startswith("ThreadPoolExecutor-"):  # gthread's pool: requests
        return "requests"
    if name.endswith("-network-thread"):  # kafka-python's sender
        return "Kafka's network thread"
    return "other"


def _py_spy() -> str:
    return str(Path(sys.executable).with_name("py-spy"))


def thread_kinds(port: int) -> dict[int, str]:
    """The kind of each thread (`thread_kind`) of the gunicorn workers serving `port`, by OS
    thread id, from the Python names py-spy reads. Threads started later (a producer made
    again) are not in it."""
    kinds = {}
    for worker in psutil.Process(gunicorn_master(port)).children():
        dump = subprocess.run(
            [_py_spy(), "dump", "--pid", str(worker.pid), "--json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        for thread in json.loads(dump.stdout):
            kinds[thread["os_thread_id"]] = thread_kind(thread["thread_name"] or "")
    return kinds


def threads_cpu_seconds(port: int, kinds: dict[int, str]) -> collections.Counter[str]:
    """CPU time (user and system) so far of the workers' threads, summed by `kinds`; a thread
    not in `kinds` counts as "other"."""
    totals: collections.Counter[str] = collections.Counter()
    for worker in psutil.Process(gunicorn_master(port)).children():
        for thread in worker.threads():
            totals[kinds.get(thread.id, "other")] += thread.user_time + thread.system_time
    return totals


def py_spy_record(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    """Start sampling a gunicorn master and its workers (collapsed stacks, busy threads only)."""
    command = [
        _py_spy(),
        "record",
        "--pid", str(pid),
        "--subprocesses",
        "--duration", str(int(seconds)),
        "--rate", "100",
        "--format", "raw",
        "--output", str(output),
        "--nonblocking",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _function(frame: str) -> str:
    """`name (path/to/module.py:42)` -> `name (module.py)`: one entry per function."""
    name, _, where = frame.partition(" (")
    module = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({module})" if module else name


def top_frames(collapsed: str, count: int = 15) -> dict:
    """Shares of samples per function, inclusive (on the stack) and self (at the top)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        # py-spy starts each stack with the process and thread: not functions.
        frames = [
            _function(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        total += int(samples)
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            inclusive[frame] += int(samples)
    if not total:
        return {"samples": 0, "inclusive": [], "self": []}
    return {
        "samples": total,
        "inclusive": [[name, n / total] for name, n in inclusive.most_common(count)],
        "self": [[name, n / total] for name, n in own.most_common(count)],
    }
