"""Landing: the streaming job in AvailableNow mode against a plain batch read, and end-to-end
latency from the ingest's 202 to the row being readable in the lake, in service mode."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import requests
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from hdfs import InsecureClient

from bench.stats import percentile
from events.shop import SHOP
from lake.offsets import webhdfs_committed_offsets
from runtime.settings import REPO_ROOT
from runtime.spark_submit import spark_environment, spark_submit_command
from streaming.batch_record import read_records


def landed_batches(stdout: str) -> dict:
    """Rows and time of the landing micro-batches the job's batch records show."""
    batches = read_records(stdout)
    return {
        "batches": len(batches),
        "events_read": sum(b.input_rows for b in batches),
        "batch_seconds": sum(b.batch_ms for b in batches) / 1000,
    }


def committed_events(webhdfs: InsecureClient, checkpoint: str) -> int:
    """Kafka records the query's last committed batch ends at, over all partitions."""
    offsets = webhdfs_committed_offsets(webhdfs, checkpoint) or {}
    return sum(offset for partitions in offsets.values() for offset in partitions.values())


class LandingService:
    """The landing job in service mode on a topic and lake of its own, stopped by its pid."""

    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LandingService:
        environ = spark_environment(overrides=self.env)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                spark_submit_command("streaming/land_events.py", "--service"),
                cwd=REPO_ROOT,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while "query land_events started" not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the landing service did not start; see {self.log_path}")
            time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class LakeWatcher:
    """Notes when each event_id becomes readable: in a committed version of `events`."""

    def __init__(self, events_path: str):
        self.events_path = events_path
        self.version: int | None = None
        self.readable_at: dict[str, float] = {}

    def poll(self) -> None:
        """When the table has a new version, note the event_ids it added."""
        try:
            table = DeltaTable(self.events_path)
        except TableNotFoundError:
            return
        if table.version() == self.version:
            return
        now = time.time()
        for event_id in table.to_pyarrow_table(columns=["event_id"]).column("event_id").to_pylist():
            self.readable_at.setdefault(event_id, now)
        self.version = table.version()


class PlayerWatcher:
    """Notes when each tracked player's purchase shows in `GET /v1/players/<id>`: the marts
    the landing service keeps fresh, read again by the ingest service."""

    def __init__(self, ingest_url: str):
        self.url = ingest_url
        self.session = requests.Session()
        self.waiting: dict[str, float] = {}  # player -> when their purchase was answered 202
        self.visible_after: dict[str, float] = {}
        self.lock = threading.Lock()

    def track(self, player_id: str, acked_at: float) -> None:
        with self.lock:
            self.waiting[player_id] = acked_at

    def poll(self) -> None:
        with self.lock:
            waiting = dict(self.waiting)
        for player_id, acked_at in waiting.items():
            response = self.session.get(f"{self.url}/v1/players/{player_id}", timeout=10)
            if response.status_code == 200 and "sword" in response.json()["inventory"]:
                with self.lock:
                    self.visible_after[player_id] = time.time() - acked_at
                    del self.waiting[player_id]


def end_to_end_latency(
    ingest_url: str, watcher: LakeWatcher, rounds: int, round_seconds: float, per_second: int = 10
) -> dict:
    """Send single purchases at a steady pace, each for a new player; per round, p50 and p95
    of 202 -> readable in the lake (s) and, for one purchase a second, of 202 -> shown by
    the player endpoint."""
    acked: dict[str, tuple[int, float]] = {}
    tracked: dict[str, int] = {}  # player -> round
    players = PlayerWatcher(ingest_url)
    session = requests.Session()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            watcher.poll()
            players.poll()
            stop.wait(0.5)

    watching = threading.Thread(target=watch, daemon=True)
    watching.start()
    sword = SHOP["sword"]
    properties = {"item": "sword", "price": sword.price, "currency": sword.currency, "quantity": 1}
    try:
        for round_number in range(rounds):
            round_end = time.monotonic() + round_seconds
            sent = 0
            while time.monotonic() < round_end:
                event_id, player_id = str(uuid.uuid4()), f"e2e-{uuid.uuid4().hex[:12]}"
                event = {
                    "event_id": event_id,
                    "event_type": "purchase",
                    "schema_version": 1,
                    "player_id": player_id,
                    "properties": properties,
                }
                response = session.post(f"{ingest_url}/v1/events", json=event, timeout=10)
                if response.status_code == 202:
                    acked[event_id] = (round_number, time.time())
                    if sent % per_second == 0:
                        tracked[player_id] = round_number
                        players.track(player_id, acked[event_id][1])
                sent += 1
                time.sleep(1 / per_second)
        deadline = time.monotonic() + 300
        while (set(acked) - set(watcher.readable_at) or players.waiting) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.5)
    finally:
        stop.set()
        watching.join()
    per_round = []
    for round_number in range(rounds):
        latencies = [
            watcher.readable_at[event_id] - at
            for event_id, (number, at) in acked.items()
            if number == round_number and event_id in watcher.readable_at
        ]
        shown = [
            players.visible_after[player]
            for player, number in tracked.items()
            if number == round_number and player in players.visible_after
        ]
        per_round.append(
            {
                "events": len(latencies),
                "p50_s": percentile(latencies, 0.5),
                "p95_s": percentile(latencies, 0.95),
                "players": len(shown),
                # Infinite when none showed in time (`players_never_shown` says how many).
                "player_p50_s": percentile(shown, 0.5) if shown else float("inf"),
                "player_p95_s": percentile(shown, 0.95) if shown else float("inf"),
            }
        )
    return {
        "sent": len(acked),
        "never_readable": len(set(acked) - set(watcher.readable_at)),
        "players_tracked": len(tracked),
        "players_never_shown": len(players.waiting),
        "rounds": per_round,
    }
