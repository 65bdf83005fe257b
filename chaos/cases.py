"""The fault cases: each one function that runs load, injects one fault and measures recovery.

Every case starts `case.load`, lets it run, injects its fault, restores what it broke and
sets `case.recovery_s`; landing, the audit and the reconciliation follow in harness.finish.
"""

from __future__ import annotations

import signal
import time

from chaos.harness import Case, CaseFailed
from chaos.load import Load

WARM_UP_S = 8
OUTAGE_S = 8
AFTER_S = 10


def start_load(case: Case, clients: int = 8) -> Load:
    """Load from `clients` simulated clients, warmed up until the first batches are in."""
    case.load = Load(case.url, clients=clients).__enter__()
    case.wait_for(lambda: len(case.load.record.accepted) > 0, "first acknowledged events", 60)
    time.sleep(WARM_UP_S)
    return case.load


def ingest_recovery(case: Case, fault_at: float) -> float:
    """Seconds from the fault until clients last saw a failure turn into a 202 (0: none)."""
    recovered = case.load.record.recovered_at(fault_at)
    return 0.0 if recovered is None else recovered - fault_at


def broker_kill(case: Case) -> None:
    """kill -9 the leader of the busiest partition under load; restart it 8 s later."""
    start_load(case)
    node = case.busiest_leader()
    fault_at = time.monotonic()
    case.signal(node, signal.SIGKILL)
    time.sleep(OUTAGE_S)
    case.note(f"{node} answers again {case.restart(node):.1f} s after its restart")
    time.sleep(AFTER_S)
    case.load.stop()
    case.recovery_s = ingest_recovery(case, fault_at)


def broker_stop(case: Case) -> None:
    """SIGSTOP the leader of the busiest partition for 10 s (slow, not dead), then SIGCONT."""
    start_load(case)
    node = case.busiest_leader()
    fault_at = time.monotonic()
    case.signal(node, signal.SIGSTOP)
    time.sleep(10)
    case.signal(node, signal.SIGCONT)
    time.sleep(AFTER_S)
    case.load.stop()
    case.recovery_s = ingest_recovery(case, fault_at)


def gunicorn_worker_kill(case: Case) -> None:
    """kill -9 one gunicorn worker under load; the master starts another."""
    start_load(case)
    workers = case.gunicorn_workers()
    fault_at = time.monotonic()
    case.kill_pid(workers[0], signal.SIGKILL, "gunicorn worker")
    case.wait_for(lambda: len(case.gunicorn_workers()) == len(workers), "a new worker", 60)
    time.sleep(AFTER_S)
    case.load.stop()
    case.recovery_s = ingest_recovery(case, fault_at)


def landing_driver_kill(case: Case) -> None:
    """kill -9 the landing driver's process group in the middle of a batch write; rerun it."""
    start_load(case)
    time.sleep(10)
    case.load.stop()
    landing = case.start_landing()
    case.wait_for(lambda: case.batch_in_flight() or landing.poll() is not None, "a batch", 300)
    if landing.poll() is not None:
        raise CaseFailed(f"landing ended ({landing.returncode}) before a batch was in flight")
    killed_at = time.monotonic()
    case.kill_group(landing.pid, "landing driver (batch planned, not committed)")
    landing.wait()
    case.note(f"rerun landed the rest in {case.land():.0f} s")
    case.landed = True
    case.recovery_s = time.monotonic() - killed_at


CASES = {
    "broker-kill": broker_kill,
    "broker-stop": broker_stop,
    "landing-driver-kill": landing_driver_kill,
    "gunicorn-worker-kill": gunicorn_worker_kill,
}
