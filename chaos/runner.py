"""Running one case: open its topic, lake and ingest service, let the case function inject its
fault, then land, audit and reconcile every acknowledged event_id (see chaos.harness)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from chaos.harness import Case, CaseFailed, CaseResult, Pace
from chaos.jobs import SessionJobs, SubmittedJobs
from stack.ingest_process import ingest_server
from stack.settings import StackSettings
from stack.topics import create_topic

JobsFor = Callable[[dict[str, str]], SubmittedJobs | SessionJobs]


@contextlib.contextmanager
def open_case(
    name: str,
    settings: StackSettings,
    work_dir: Path,
    port: int,
    pace: Pace,
    jobs_for: JobsFor = SubmittedJobs,
) -> Iterator[Case]:
    """A topic (a replica per broker) and a lake folder of the case's own, an ingest service,
    and the case's Spark jobs (`jobs_for` its environment)."""
    suffix = uuid.uuid4().hex[:6]
    topic = f"chaos-{name}-{suffix}"
    create_topic(settings, topic, settings.topic_partitions)
    lake_root = f"{settings.hdfs_url}/chaos/{name}-{suffix}"
    env = {
        **settings.client_environment(),
        "QUESTLOG_TOPIC": topic,
        "QUESTLOG_LAKE_ROOT": lake_root,
    }
    work_dir.mkdir(parents=True, exist_ok=True)
    with ingest_server(port, env=env, log_path=work_dir / f"{name}-ingest.log") as url:
        case = Case(name, settings, topic, lake_root, url, work_dir, pace)
        case.jobs = jobs_for(case.env)
        yield case


def load_figures(case: Case, result: CaseResult) -> None:
    """What the clients saw: sent, acknowledged, 503s, errors, the longest 503 window."""
    record = case.load.record
    result.sent, result.acknowledged = len(record.sent), len(record.accepted)
    result.http_503, result.errors = record.count("503"), record.count("error")
    result.requests_in_flight = case.requests_in_flight
    result.batch_in_flight = case.batch_in_flight_at_kill
    result.longest_503_s = round(record.longest_window("503"), 1)
    if record.given_up:
        case.note(f"{record.given_up} events never acknowledged (clients gave up after 120 s)")
    for crash in record.crashes:
        case.note(f"load crashed: {crash}")


def finish(case: Case, result: CaseResult) -> CaseResult:
    """Land what is left, run the audit, and reconcile every acknowledged event_id."""
    record = case.load.record
    if not case.landed:
        case.land()
    audit = case.jobs.audit()
    result.audit = "complete" if audit.returncode == 0 else "GAPS"
    if audit.returncode != 0:
        gaps = audit.output.partition("GAPS:")[2].split()
        case.note(f"audit gaps: {' '.join(gaps)}" if gaps else f"audit: {audit.output[-1500:]}")
    accepted_file = case.work_dir / f"{case.name}-accepted.txt"
    # An erasure's events are checked apart: those received before it must be gone.
    must_land = record.accepted - case.erased_ids - case.either_ids
    accepted_file.write_text("".join(f"{event_id}\n" for event_id in sorted(must_land)))
    erased_file = None
    if case.erased_ids:
        erased_file = case.work_dir / f"{case.name}-erased.txt"
        erased_file.write_text("".join(f"{event_id}\n" for event_id in sorted(case.erased_ids)))
    figures = case.jobs.reconcile(accepted_file, erased_file)
    if figures is None:
        raise CaseFailed("reconciliation failed: it printed no result")
    result.lost, result.landed_twice = figures["lost"], figures["landed_twice"]
    if figures["lost"]:
        case.note(f"lost, e.g. {figures['lost_examples']}")
    resurfaced = figures.get("resurfaced", 0)
    if erased_file is not None:
        case.note(
            f"{len(case.erased_ids)} acknowledged events of the erased player received before "
            f"the erasure: {resurfaced} in the lake after landing and the replay"
            + (f", e.g. {figures['resurfaced_examples']}" if resurfaced else "")
        )
    audit_as_expected = result.audit == ("GAPS" if case.expect_gaps else "complete")
    result.passed = (
        result.lost == case.expected_lost
        and result.landed_twice == 0
        and audit_as_expected
        and resurfaced == 0
    )
    if case.expected_lost:
        case.note(f"{case.expected_lost} acknowledged events removed by retention before landing")
    return result


def run_case(
    name: str,
    body: Callable[[Case], None],
    settings: StackSettings,
    work_dir: Path,
    port: int,
    pace: Pace | None = None,
    jobs_for: JobsFor = SubmittedJobs,
) -> CaseResult:
    """Open the case, let `body` run load and fault, then finish; a crash becomes a failed row."""
    result = CaseResult(name, settings.topology)
    started = time.monotonic()
    print(f"case {name} ({settings.topology})", flush=True)
    try:
        with open_case(name, settings, work_dir, port, pace or Pace(), jobs_for) as case:
            try:
                body(case)
                case.load.stop()
                load_figures(case, result)
                result.recovery_s = None if case.recovery_s is None else round(case.recovery_s, 1)
                finish(case, result)
            finally:
                if case.load is not None:
                    case.load.stop()
                    if not result.sent:
                        load_figures(case, result)
                result.notes = case.notes
    except Exception as error:  # noqa: BLE001 - any crash is a failed row, the suite goes on
        result.notes.append(f"FAILED: {error}")
        print(f"  [{name}] FAILED: {error}", file=sys.stderr, flush=True)
    print(
        f"  [{name}] {'passed' if result.passed else 'FAILED'} "
        f"in {time.monotonic() - started:.0f} s: "
        f"{json.dumps({k: v for k, v in result.__dict__.items() if k != 'notes'})}",
        flush=True,
    )
    return result
