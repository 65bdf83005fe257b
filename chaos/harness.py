"""What every fault case does around its fault: a topic and lake of its own, the ingest service,
load, then landing, the audit and the reconciliation of every acknowledged event_id.

A case function receives a `Case`, injects its fault while `case.load` runs, and returns what
it measured; `run_case` does the rest and turns it into a `CaseResult`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from chaos.jobs import JobResult, SessionJobs, SubmittedJobs
from chaos.load import Load
from chaos.observe import children, cmdline, committed_offset, open_batches
from runtime.layout import LakeLayout
from runtime.spark_submit import spark_submit_command
from stack import landing, processes
from stack.landing import spark_environment
from stack.manager import up
from stack.probes import http_json
from stack.settings import REPO_ROOT, StackSettings
from stack.topics import controller_leader


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
    # What was under way at the fault: requests waiting for their answer, a landing batch
    # planned and not committed (None: the case does not look).
    requests_in_flight: int | None = None
    batch_in_flight: bool | None = None


@dataclass(frozen=True)
class Pace:
    """How long a case lets load run around its fault. `make chaos` keeps the defaults; the
    test suite takes the least that still puts requests and a batch in flight at the fault."""

    clients: int = 8
    warm_up_s: float = 8
    load_s: float = 10
    outage_s: float = 8
    after_s: float = 10


@dataclass
class Case:
    """A case's own topic, lake and ingest service, and the helpers its fault needs."""

    name: str
    settings: StackSettings
    topic: str
    lake_root: str
    url: str
    work_dir: Path
    pace: Pace = field(default_factory=Pace)
    # Landing, the audit and the reconciliation: spark-submit unless the runner says.
    jobs: SubmittedJobs | SessionJobs | None = None
    load: Load | None = None
    notes: list[str] = field(default_factory=list)
    recovery_s: float | None = None
    landed: bool = False
    landing_args: list[str] = field(default_factory=list)
    expected_lost: int = 0
    expect_gaps: bool = False
    requests_in_flight: int | None = None
    batch_in_flight_at_kill: bool | None = None
    # An erasure's: acknowledged event_ids that must not be in the lake, and those whose
    # receipt was neither clearly before nor after it (left out of both checks).
    erased_ids: set[str] = field(default_factory=set)
    either_ids: set[str] = field(default_factory=set)

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

    def start_landing(self) -> subprocess.Popen:
        """`land_events.py --until-caught-up` in its own process group (to be killed whole)."""
        log = (self.work_dir / f"{self.name}-landing.log").open("a")
        return subprocess.Popen(
            spark_submit_command("streaming/land_events.py", "--until-caught-up"),
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def land(self) -> float:
        """Land everything in the topic; fail loudly if the job fails. Returns its seconds."""
        started = time.monotonic()
        result = self.jobs.land(*self.landing_args)
        log = self.work_dir / f"{self.name}-landing.log"
        with log.open("a") as out:
            out.write(result.output)
        if result.returncode != 0:
            tail = "\n".join(result.output.splitlines()[-25:])
            raise CaseFailed(f"landing failed ({result.returncode}), see {log}:\n{tail}")
        return time.monotonic() - started

    def replay(self) -> JobResult:
        """Land the whole topic again from a fresh checkpoint (earliest offsets) into the
        same tables; fail loudly if the job fails."""
        result = self.jobs.land(
            "--checkpoint-root", f"{self.lake_root}/replay-checkpoints",
            "--starting-offsets", "earliest",
        )  # fmt: skip
        with (self.work_dir / f"{self.name}-replay.log").open("a") as out:
            out.write(result.output)
        if result.returncode != 0:
            tail = "\n".join(result.output.splitlines()[-25:])
            raise CaseFailed(f"the replay failed ({result.returncode}):\n{tail}")
        return result

    def forget(self, player_id: str) -> dict:
        """`jobs/forget_player.py --player` on the case's lake; its report."""
        result = self.jobs.forget(player_id)
        with (self.work_dir / f"{self.name}-forget.log").open("a") as out:
            out.write(result.output)
        report = next((x for x in result.output.splitlines() if x.startswith('{"players"')), None)
        if result.returncode != 0 or report is None:
            tail = "\n".join(result.output.splitlines()[-25:])
            raise CaseFailed(f"the erasure failed ({result.returncode}):\n{tail}")
        return json.loads(report)

    def landing_pid(self) -> int | None:
        """The supervised landing job's pid (spark-submit, its process group's leader)."""
        return processes.running_pid(self.settings, landing.LANDING)

    def start_job(self, script: str, *args: str) -> subprocess.Popen:
        """A Spark entry point in the background, in its own process group."""
        log = (self.work_dir / f"{self.name}-{Path(script).stem}.log").open("a")
        return subprocess.Popen(
            spark_submit_command(script, *args),
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def start_landing_service(self, **env: str) -> None:
        """The supervised landing service (`make stream`) on the case's topic and lake, with
        `env` besides."""
        landing.start(
            self.settings,
            {"QUESTLOG_TOPIC": self.topic, "QUESTLOG_LAKE_ROOT": self.lake_root, **env},
        )

    def stop_landing_service(self) -> None:
        landing.stop(self.settings)

    def landing_batches(self) -> int:
        """Batch records the landing service has logged so far (non-empty ones)."""
        return sum(1 for batch in landing.batches(self.settings) if batch.input_rows)

    def service_batches(self) -> list:
        """Every batch record the landing service has logged, oldest first."""
        return landing.batches(self.settings)

    def supervisor_state(self) -> dict:
        return landing.read_state(self.settings)

    def stop_node(self, node: str) -> None:
        processes.stop(self.settings, node)
        self.note(f"stopped {node}")

    def worker_executors(self, index: int) -> int:
        """Executors running on Spark worker `index`, from its own web UI."""
        port = self.settings.spark_worker_ui_port + index - 1
        body = http_json(f"http://127.0.0.1:{port}/json/") or {}
        return len(body.get("executors", []))

    def delete_unread_records(self, partition: int) -> int:
        """Advance a partition's log start past what landing has read, as retention would;
        returns how many acknowledged event_ids had no copy left (the expected loss)."""
        tp = TopicPartition(self.topic, partition)
        landed = committed_offset(self.settings.webhdfs_url, self.lake_root, self.topic, partition)
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap)
        removed_ids: set[str] = set()
        try:
            consumer.assign([tp])
            end = consumer.end_offsets([tp])[tp]
            consumer.seek(tp, landed)
            while consumer.position(tp) < end:
                for record in consumer.poll(timeout_ms=2000).get(tp, []):
                    if record.offset < end:
                        removed_ids.add(json.loads(record.value)["event_id"])
        finally:
            consumer.close()
        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        try:
            admin.delete_records({tp: end})
        finally:
            admin.close()
        self.note(
            f"partition {partition}: log start moved to {end}; landing had read up to {landed}"
        )
        return len(removed_ids & self.load.record.accepted)

    def batch_in_flight(self) -> bool:
        """Whether a landing query has planned a micro-batch and not committed it yet."""
        return bool(
            open_batches(self.settings.webhdfs_url, LakeLayout(self.lake_root).checkpoint_root)
        )

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

    def signal_group(self, pid: int, signum: signal.Signals, what: str) -> None:
        """Send `signum` to a whole process group (spark-submit and what it started)."""
        os.killpg(os.getpgid(pid), signum)
        self.note(f"{signum.name} {what}, process group {pid}")

    def kill_group(self, pid: int, what: str) -> None:
        """SIGKILL a whole process group (spark-submit and the JVMs and Pythons it started)."""
        self.signal_group(pid, signal.SIGKILL, what)

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

    def note_controller(self) -> None:
        """Note which broker is the active controller: when it is the one the fault hits, a
        controller election comes before the new leaders."""
        if self.settings.brokers > 1:
            self.note(f"the active controller is {controller_leader(self.settings)}")

    def wait_for(
        self, condition: Callable[[], bool], what: str, timeout: float = 120, poll_s: float = 0.2
    ) -> float:
        """Poll until `condition()` holds; returns the seconds it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise CaseFailed(f"{what}: not within {timeout:.0f} s")
            time.sleep(poll_s)
        return time.monotonic() - started


class CaseFailed(Exception):
    """The case could not do what it set out to do (not a measured loss)."""
