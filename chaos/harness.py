"""What every fault case does around its fault: a topic and lake of its own, the ingest service,
load, then landing, the audit and the reconciliation of every acknowledged event_id.

A case function receives a `Case`, injects its fault while `case.load` runs, and returns what
it measured; `run_case` does the rest and turns it into a `CaseResult`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from hdfs import InsecureClient
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from chaos.load import Load
from stack import processes
from stack.ingest_process import ingest_server
from stack.landing import spark_environment
from stack.manager import up
from stack.settings import REPO_ROOT, StackSettings
from stack.topics import create_topic

SPARK_SUBMIT = REPO_ROOT / ".venv" / "bin" / "spark-submit"


@dataclass
class CaseResult:
    """One row of docs/reliability.md."""

    case: str
    topology: str
    sent: int = 0
    acknowledged: int = 0
    http_503: int = 0
    errors: int = 0
    longest_503_s: float = 0.0
    lost: int | None = None
    landed_twice: int | None = None
    recovery_s: float | None = None
    audit: str = "not run"
    passed: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class Case:
    """A case's own topic, lake and ingest service, and the helpers its fault needs."""

    name: str
    settings: StackSettings
    topic: str
    lake_root: str
    url: str
    work_dir: Path
    load: Load | None = None
    notes: list[str] = field(default_factory=list)
    recovery_s: float | None = None
    landed: bool = False

    @property
    def env(self) -> dict[str, str]:
        """The environment of this case's Spark jobs."""
        return {
            **spark_environment(self.settings),
            "QUESTLOG_TOPIC": self.topic,
            "QUESTLOG_LAKE_ROOT": self.lake_root,
        }

    def note(self, text: str) -> None:
        print(f"  [{self.name}] {text}", flush=True)
        self.notes.append(text)

    # ------------------------------------------------------------ Spark jobs

    def spark_submit(
        self, script: str, *args: str, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        """Run an entry point with spark-submit against the topology, capturing its output."""
        command = [str(SPARK_SUBMIT), script, *args]
        return subprocess.run(
            command, cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start_landing(self) -> subprocess.Popen:
        """`land_events.py --until-caught-up` in its own process group (to be killed whole)."""
        log = (self.work_dir / f"{self.name}-landing.log").open("a")
        return subprocess.Popen(
            [str(SPARK_SUBMIT), "streaming/land_events.py", "--until-caught-up"],
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def land(self) -> float:
        """Land everything in the topic; fail loudly if the job fails. Returns its seconds."""
        started = time.monotonic()
        result = self.spark_submit("streaming/land_events.py", "--until-caught-up")
        if result.returncode != 0:
            raise CaseFailed(f"landing failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return time.monotonic() - started

    def batch_in_flight(self) -> bool:
        """Whether a landing query has planned a micro-batch and not committed it yet."""
        return bool(open_batches(self.settings.webhdfs_url, f"{self.lake_root}/checkpoints"))

    # ------------------------------------------------------------ nodes

    def pid(self, node: str) -> int:
        pid = processes.running_pid(self.settings, node)
        if pid is None:
            raise CaseFailed(f"{node} is not running")
        return pid

    def signal(self, node: str, signum: int) -> None:
        os.kill(self.pid(node), signum)
        self.note(f"{signal.Signals(signum).name} {node}")

    def restart(self, *nodes: str) -> float:
        """Start stopped nodes again and wait until they answer; returns the seconds taken."""
        started = time.monotonic()
        up(self.settings, list(nodes))
        return time.monotonic() - started

    def kill_pid(self, pid: int, signum: int, what: str) -> None:
        os.kill(pid, signum)
        self.note(f"{signal.Signals(signum).name} {what} (pid {pid})")

    def kill_group(self, pid: int, what: str) -> None:
        """SIGKILL a whole process group (spark-submit and the JVMs and Pythons it started)."""
        os.killpg(os.getpgid(pid), signal.SIGKILL)
        self.note(f"SIGKILL {what}, process group {pid}")

    def gunicorn_workers(self) -> list[int]:
        """Pids of the workers of the gunicorn master this process started."""
        (master,) = [pid for pid in children(os.getpid()) if b"gunicorn" in cmdline(pid)]
        return sorted(children(master))

    def busiest_leader(self) -> str:
        """The broker node leading the partition with the most records of the case's topic."""
        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        try:
            (topic,) = admin.describe_topics([self.topic])
        finally:
            admin.close()
        leaders = {p["partition_index"]: p["leader_id"] for p in topic["partitions"]}
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap)
        try:
            ends = consumer.end_offsets([TopicPartition(self.topic, p) for p in leaders])
        finally:
            consumer.close()
        busiest = max(ends, key=ends.get)
        node_id = leaders[busiest.partition]
        self.note(f"partition {busiest.partition} ({ends[busiest]} records) is led by {node_id}")
        return "kafka" if self.settings.brokers == 1 else f"kafka-{node_id}"

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> float:
        """Poll until `condition()` holds; returns the seconds it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise CaseFailed(f"{what}: not within {timeout:.0f} s")
            time.sleep(0.2)
        return time.monotonic() - started


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children(parent: int) -> list[int]:
    """Pids of the live child processes of `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == parent and state != "Z":
                found.append(int(entry.name))
    return found


class CaseFailed(Exception):
    """The case could not do what it set out to do (not a measured loss)."""


def open_batches(webhdfs_url: str, checkpoint_root: str) -> list[str]:
    """Micro-batches planned and not yet committed under a checkpoint root, from Structured
    Streaming's own log layout: `<query>/offsets/<n>` is written when batch n is planned,
    `<query>/commits/<n>` once its output is committed."""
    client = InsecureClient(webhdfs_url, user=os.environ.get("USER", "root"))
    root = urlparse(checkpoint_root).path
    found = []
    for query in client.list(root, strict=False) or []:
        offsets = client.list(f"{root}/{query}/offsets", strict=False) or []
        commits = set(client.list(f"{root}/{query}/commits", strict=False) or [])
        found += [f"{query}/{n}" for n in offsets if n.isdigit() and n not in commits]
    return found


@contextlib.contextmanager
def open_case(name: str, settings: StackSettings, work_dir: Path, port: int) -> Iterator[Case]:
    """A topic (a replica per broker) and a lake folder of the case's own, and an ingest service."""
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
        yield Case(name, settings, topic, lake_root, url, work_dir)


def finish(case: Case, result: CaseResult) -> CaseResult:
    """Land what is left, run the audit, and reconcile every acknowledged event_id."""
    record = case.load.record
    result.sent, result.acknowledged = len(record.sent), len(record.accepted)
    result.http_503, result.errors = record.count("503"), record.count("error")
    result.longest_503_s = round(record.longest_window("503"), 1)
    if not case.landed:
        case.land()
    audit = case.spark_submit("streaming/audit.py")
    result.audit = "complete" if audit.returncode == 0 else "GAPS"
    if audit.returncode != 0:
        case.note(f"audit: {(audit.stdout + audit.stderr)[-1500:]}")
    accepted_file = case.work_dir / f"{case.name}-accepted.txt"
    accepted_file.write_text("".join(f"{event_id}\n" for event_id in sorted(record.accepted)))
    reconciled = case.spark_submit("chaos/reconcile_job.py", str(accepted_file))
    line = next((x for x in reconciled.stdout.splitlines() if x.startswith("RECONCILE ")), None)
    if line is None:
        raise CaseFailed(f"reconciliation failed:\n{reconciled.stderr[-3000:]}")
    figures = json.loads(line.removeprefix("RECONCILE "))
    result.lost, result.landed_twice = figures["lost"], figures["landed_twice"]
    if figures["lost"]:
        case.note(f"lost, e.g. {figures['lost_examples']}")
    result.passed = result.lost == 0 and result.landed_twice == 0 and result.audit == "complete"
    return result


def run_case(
    name: str, body: Callable[[Case], None], settings: StackSettings, work_dir: Path, port: int
) -> CaseResult:
    """Open the case, let `body` run load and fault, then finish; a crash becomes a failed row."""
    result = CaseResult(name, settings.topology)
    started = time.monotonic()
    print(f"case {name} ({settings.topology})", flush=True)
    try:
        with open_case(name, settings, work_dir, port) as case:
            try:
                body(case)
                result.recovery_s = None if case.recovery_s is None else round(case.recovery_s, 1)
                finish(case, result)
            finally:
                result.notes = case.notes
                if case.load is not None:
                    case.load.stop()
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
