"""The fault cases: each one function that runs load, injects one fault and measures recovery.

Every case starts `case.load`, lets it run, injects its fault, restores what it broke and
sets `case.recovery_s`; landing, the audit and the reconciliation follow in harness.finish.
"""

from __future__ import annotations

import signal
import time
import uuid
from datetime import datetime

from chaos.harness import Case, CaseFailed
from chaos.load import Load, PlayerEvents
from streaming.batch_record import read_records


def start_load(case: Case) -> Load:
    """Load from the pace's simulated clients, warmed up until the first batches are in.
    Started again, it adds to the record of the case's earlier load (another seed)."""
    earlier = case.load.record if case.load else None
    seed = 7 + (len(earlier.sent) if earlier else 0)
    case.load = Load(case.url, clients=case.pace.clients, seed=seed, record=earlier).__enter__()
    case.wait_for(lambda: len(case.load.record.accepted) > 0, "first acknowledged events", 60)
    time.sleep(case.pace.warm_up_s)
    return case.load


def ingest_recovery(case: Case, fault_at: float) -> float:
    """Seconds from the fault until clients last saw a failure turn into a 202 (0: none)."""
    recovered = case.load.record.recovered_at(fault_at)
    return 0.0 if recovered is None else recovered - fault_at


def broker_kill(case: Case) -> None:
    """kill -9 the leader of the busiest partition under load, while requests wait for their
    acknowledgement; restart it after the pace's outage."""
    start_load(case)
    node = case.busiest_leader()
    case.note_controller()
    case.wait_for(lambda: case.load.record.in_flight > 0, "a request in flight", 30, poll_s=0.001)
    case.requests_in_flight = case.load.record.in_flight
    fault_at = time.monotonic()
    case.signal(node, signal.SIGKILL)
    case.note(f"{case.requests_in_flight} requests in flight at the kill")
    time.sleep(case.pace.outage_s)
    case.note(f"{node} answers again {case.restart(node):.1f} s after its restart")
    time.sleep(case.pace.after_s)
    case.load.stop()
    case.recovery_s = ingest_recovery(case, fault_at)


def broker_stop(case: Case) -> None:
    """SIGSTOP the leader of the busiest partition for 10 s (slow, not dead), then SIGCONT."""
    start_load(case)
    node = case.busiest_leader()
    case.note_controller()
    fault_at = time.monotonic()
    case.signal(node, signal.SIGSTOP)
    time.sleep(10)
    case.signal(node, signal.SIGCONT)
    time.sleep(case.pace.after_s)
    case.load.stop()
    case.recovery_s = ingest_recovery(case, fault_at)


def gunicorn_worker_kill(case: Case) -> None:
    """kill -9 one gunicorn worker under load; the master starts another."""
    start_load(case)
    workers = case.gunicorn_workers()
    fault_at = time.monotonic()
    case.kill_pid(workers[0], signal.SIGKILL, "gunicorn worker")
    case.wait_for(lambda: len(case.gunicorn_workers()) == len(workers), "a new worker", 60)
    time.sleep(case.pace.after_s)
    case.load.stop()
    case.recovery_s = ingest_recovery(case, fault_at)


def landing_driver_kill(case: Case) -> None:
    """kill -9 the landing driver's process group in the middle of a batch write; rerun it."""
    start_load(case)
    time.sleep(case.pace.load_s)
    case.load.stop()
    landing = case.start_landing()
    case.wait_for(lambda: case.batch_in_flight() or landing.poll() is not None, "a batch", 300)
    if landing.poll() is not None:
        raise CaseFailed(f"landing ended ({landing.returncode}) before a batch was in flight")
    killed_at = time.monotonic()
    case.kill_group(landing.pid, "landing driver (batch planned, not committed)")
    landing.wait()
    # Still open after the kill: the batch was under way when its driver died.
    case.batch_in_flight_at_kill = case.batch_in_flight()
    case.note(f"batch in flight at the kill: {case.batch_in_flight_at_kill}")
    case.note(f"rerun landed the rest in {case.land():.0f} s")
    case.landed = True
    case.recovery_s = time.monotonic() - killed_at


def datanode_kill(case: Case) -> None:
    """kill -9 a DataNode while the landing job writes a batch; restart it 8 s later."""
    start_load(case)
    landing = case.start_landing()
    case.wait_for(lambda: case.batch_in_flight() or landing.poll() is not None, "a batch", 300)
    fault_at = time.monotonic()
    case.signal("datanode-2", signal.SIGKILL)
    time.sleep(case.pace.outage_s)
    case.note(f"datanode-2 answers again {case.restart('datanode-2'):.1f} s after its restart")
    code = landing.wait()
    case.note(f"the landing run under way exited {code}")
    case.load.stop()
    # The run under way stopped at the offsets it saw at its start; this lands the rest.
    case.note(f"a second run landed the rest in {case.land():.0f} s")
    case.landed = True
    case.recovery_s = time.monotonic() - fault_at


def namenode_restart(case: Case) -> None:
    """Restart the NameNode while the supervised landing service runs; it must catch up."""
    start_load(case)
    before = case.landing_batches()
    case.start_landing_service()
    try:
        case.wait_for(lambda: case.landing_batches() > before, "a first landed batch", 900)
        fault_at = time.monotonic()
        case.stop_node("namenode")
        case.note(f"namenode answers again {case.restart('namenode'):.1f} s after its restart")
        batches = case.landing_batches()
        case.wait_for(lambda: case.landing_batches() > batches, "a batch after the restart", 900)
        case.recovery_s = time.monotonic() - fault_at
        case.note(f"supervisor: {case.supervisor_state()}")
        case.load.stop()
    finally:
        case.stop_landing_service()


def spark_worker_kill(case: Case) -> None:
    """kill -9 a Spark worker while a mart runs on it; the mart must finish on the other."""
    start_load(case)
    time.sleep(case.pace.load_s)
    case.load.stop()
    case.land()
    case.landed = True
    mart = case.start_job("jobs/player_purchases.py", "--no-tables")
    case.wait_for(lambda: case.worker_executors(1) > 0 or mart.poll() is not None, "an executor")
    fault_at = time.monotonic()
    case.signal("spark-worker-1", signal.SIGKILL)
    code = mart.wait()
    case.recovery_s = time.monotonic() - fault_at
    case.note(f"the mart exited {code} {case.recovery_s:.0f} s after the kill")
    case.note(
        f"spark-worker-1 answers again {case.restart('spark-worker-1'):.1f} s after its restart"
    )
    if code != 0:
        raise CaseFailed(f"the mart failed after losing a worker (exit {code})")


def retention(case: Case) -> None:
    """Retention removes offsets landing has not read: landing stops and names them."""
    start_load(case)
    time.sleep(5)
    case.load.stop()
    case.land()
    start_load(case)
    time.sleep(5)
    case.load.stop()
    removed = case.delete_unread_records(partition=0)
    landing = case.jobs.land()
    output = landing.output
    named = f"{case.topic}-0" in output or "partition 0" in output
    case.note(f"landing exited {landing.returncode}; names partition 0: {named}")
    if landing.returncode == 0 or not named:
        raise CaseFailed(f"landing did not stop naming the removed offsets:\n{output[-2000:]}")
    # An operator accepts the loss explicitly; the audit then reports it as a gap.
    case.landing_args = ["--fail-on-data-loss", "false"]
    case.expected_lost = removed
    case.expect_gaps = True


def erasure_while_landing(case: Case) -> None:
    """Erase a player while the landing service runs and the player's events are in flight;
    then land the rest and replay the whole topic: nothing received before the erasure lands,
    everything after it does.

    The service's driver is paused (SIGSTOP) across the erasure, so that the player's events
    received before it are still in Kafka, or in a batch under way, when the erasure commits;
    the service must drop them itself once it goes on (SIGCONT)."""
    start_load(case)
    player = f"erased-{uuid.uuid4().hex[:8]}"
    sender = PlayerEvents(case.url, player, case.load.record).start()
    # Marts off: the erasure recomputes every mart that exists, which is not this case.
    logged = len(case.service_batches())
    case.start_landing_service(QUESTLOG_MARTS_REFRESH_S="0")

    def service_dropped() -> int:
        """What the service itself dropped as erased: the events in flight at the erasure."""
        return sum(batch.erased for batch in case.service_batches()[logged:])

    try:
        before = case.landing_batches()
        case.wait_for(lambda: case.landing_batches() > before + 1, "two landed batches", 900)
        pid = case.landing_pid()
        if pid is None:
            raise CaseFailed("the landing service's job is not running")
        case.signal_group(pid, signal.SIGSTOP, "the landing service's job")
        fault_at = time.monotonic()
        try:
            report = case.forget(player)
        finally:
            case.signal_group(pid, signal.SIGCONT, "the landing service's job")
        erased_at = datetime.fromisoformat(report["erased_at"]).timestamp()
        case.note(f"erased {player} at {report['erased_at']}; removed {report['rows_removed']}")
        case.wait_for(lambda: service_dropped() > 0, "the service dropping events in flight", 600)
        case.recovery_s = time.monotonic() - fault_at
        batches = case.landing_batches()
        case.wait_for(lambda: case.landing_batches() > batches, "a batch after that", 300)
        sender.stop()
        case.load.stop()
    finally:
        sender.stop()
        case.stop_landing_service()
    erased, after, either = sender.split(erased_at)
    case.erased_ids, case.either_ids = erased, either
    dropped = service_dropped()
    case.note(
        f"{player}: {len(erased)} events acknowledged before the erasure, {dropped} of them "
        f"dropped by the landing service (in flight at it); {len(after)} sent after it, "
        f"{len(either)} across it"
    )
    if dropped <= 0 or not after:
        raise CaseFailed("no event of the player was in flight at the erasure, or none after")
    case.land()
    replayed = read_records(case.replay().output)
    case.note(
        f"replay from a new checkpoint: read {sum(r.input_rows for r in replayed)}, landed "
        f"{sum(r.landed for r in replayed)}, erased {sum(r.erased for r in replayed)}"
    )
    case.landed = True


def two_landing_jobs(case: Case) -> None:
    """A second landing job on the tables the landing service lands into is refused; the
    service's lease, once its driver is killed, lapses and its restart lands again."""
    start_load(case)
    case.start_landing_service(QUESTLOG_MARTS_REFRESH_S="0")
    try:
        before = case.landing_batches()
        case.wait_for(lambda: case.landing_batches() > before, "a first landed batch", 900)
        second = case.jobs.land()
        refusal = next((x for x in second.output.splitlines() if "refused:" in x), "")
        case.note(f"a second landing job exited {second.returncode}: {refusal.strip()[-220:]}")
        if second.returncode != 2 or not refusal:
            raise CaseFailed(f"the second landing job was not refused:\n{second.output[-2000:]}")
        batches = case.landing_batches()
        case.wait_for(lambda: case.landing_batches() > batches, "the first job lands on", 300)
        pid = case.landing_pid()
        if pid is None:
            raise CaseFailed("the landing service's job is not running")
        killed_at = time.monotonic()
        case.kill_group(pid, "landing service's job (the lease holder)")
        batches = case.landing_batches()
        case.wait_for(lambda: case.landing_batches() > batches, "a batch after the kill", 600)
        case.recovery_s = time.monotonic() - killed_at
        case.note(f"restarted job landed {case.recovery_s:.0f} s after the kill")
        case.note(f"supervisor: {case.supervisor_state()}")
        case.load.stop()
    finally:
        case.stop_landing_service()


def replay_from_new_checkpoint(case: Case) -> None:
    """Land the topic, then land it all again from a fresh checkpoint into the same tables:
    the key index keeps every event_id once."""
    start_load(case)
    time.sleep(case.pace.load_s)
    case.load.stop()
    case.land()
    started = time.monotonic()
    replayed = read_records(case.replay().output)
    read, landed = sum(r.input_rows for r in replayed), sum(r.landed for r in replayed)
    case.note(
        f"replay from a new checkpoint: {len(replayed)} batches read {read} records, landed "
        f"{landed}, duplicates {sum(r.duplicates for r in replayed)}, in "
        f"{time.monotonic() - started:.0f} s"
    )
    if read == 0:
        raise CaseFailed("the replay read nothing")
    case.landed = True


CASES = {
    "broker-kill": broker_kill,
    "broker-stop": broker_stop,
    "landing-driver-kill": landing_driver_kill,
    "gunicorn-worker-kill": gunicorn_worker_kill,
    "datanode-kill": datanode_kill,
    "namenode-restart": namenode_restart,
    "spark-worker-kill": spark_worker_kill,
    "retention": retention,
    "erasure-while-landing": erasure_while_landing,
    "two-landing-jobs": two_landing_jobs,
    "replay-from-new-checkpoint": replay_from_new_checkpoint,
}
