"""Sustained load on the ingest service from simulated players, as real clients behave.

Each client thread posts batches of simulated events; on a 503, a 429, a 5xx or a broken
connection it sends the same batch again (same event_ids) after a short back-off, until a 202
or its patience runs out. Every answer is recorded with its time, so a case can tell how many
events were sent and acknowledged, how many 503s came, and how long the longest run of
failures lasted.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from simulator.players import simulate

RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class LoadRecord:
    """What the clients saw: events sent and acknowledged, and every answer with its time."""

    sent: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)
    answers: list[tuple[float, str]] = field(default_factory=list)
    given_up: int = 0
    crashes: list[str] = field(default_factory=list)
    # Requests sent and not answered yet.
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, outcome: str) -> None:
        with self.lock:
            self.answers.append((time.monotonic(), outcome))

    def count(self, outcome: str) -> int:
        return sum(1 for _, seen in self.answers if seen == outcome)

    def failure_windows(self) -> list[tuple[float, float]]:
        """Periods from a failed answer (any client) until the next 202 (any client)."""
        windows, opened = [], None
        for at, outcome in sorted(self.answers):
            if outcome == "202":
                if opened is not None:
                    windows.append((opened, at))
                    opened = None
            elif opened is None:
                opened = at
        if opened is not None:
            windows.append((opened, time.monotonic()))
        return windows

    def longest_window(self, outcome: str = "503") -> float:
        """The longest run of answers that were all failures, containing at least one `outcome`."""
        longest = 0.0
        for start, end in self.failure_windows():
            seen = {o for at, o in self.answers if start <= at < end}
            if outcome in seen:
                longest = max(longest, end - start)
        return longest

    def recovered_at(self, since: float) -> float | None:
        """When the last failure window that ended after `since` closed (None: no failure)."""
        ends = [end for start, end in self.failure_windows() if end >= since]
        return max(ends) if ends else None


class Load:
    """`clients` threads posting to `url` until stop(); see LoadRecord for results.

    Even-numbered clients post batches of `batch` events, odd-numbered ones one event at a
    time, as a game client does: each goes through its own producer of the ingest service.
    """

    def __init__(
        self,
        url: str,
        clients: int = 8,
        batch: int = 20,
        rate_per_client: float = 50.0,
        patience_s: float = 120.0,
        seed: int = 7,
        record: LoadRecord | None = None,
    ):
        self.url = url.rstrip("/") + "/v1/events"
        self.clients, self.batch, self.patience_s = clients, batch, patience_s
        self.rate_per_client = rate_per_client
        self.seed = seed
        # A load started again (a case with two phases) adds to the same record.
        self.record = record or LoadRecord()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def events(self, client: int):
        """Endless simulated events of this client's own players (distinct seeds per client)."""
        first_day = datetime.now(UTC).date() - timedelta(days=2)
        for round_ in itertools.count():
            seed = self.seed * 1_000_003 + client * 1009 + round_
            yield from simulate(40, 2, seed, first_day)

    def post_until_accepted(self, session: requests.Session, group: list[dict]) -> None:
        ids = [event["event_id"] for event in group]
        with self.record.lock:
            self.record.sent.update(ids)
        deadline = time.monotonic() + self.patience_s
        wait = 0.2
        while time.monotonic() < deadline:
            with self.record.lock:
                self.record.in_flight += 1
            try:
                response = session.post(self.url, json=group, timeout=15)
                outcome = str(response.status_code)
            except requests.RequestException:
                outcome = "error"
            finally:
                with self.record.lock:
                    self.record.in_flight -= 1
            self.record.note(outcome)
            if outcome == "202":
                with self.record.lock:
                    self.record.accepted.update(response.json()["event_ids"])
                return
            if outcome != "error" and int(outcome) not in RETRY_STATUSES:
                raise RuntimeError(f"{outcome}: {response.text[:300]}")
            time.sleep(wait)
            wait = min(wait * 2, 2.0)
        with self.record.lock:
            self.record.given_up += len(group)

    def client(self, number: int) -> None:
        session = requests.Session()
        events = self.events(number)
        size = self.batch if number % 2 == 0 else 1
        pause = size / self.rate_per_client
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                self.post_until_accepted(session, list(itertools.islice(events, size)))
                self.stopping.wait(max(0.0, pause - (time.monotonic() - started)))
        except Exception as error:  # noqa: BLE001 - a case reports it instead of hanging
            with self.record.lock:
                self.record.crashes.append(f"client {number}: {error!r}")

    def __enter__(self) -> Load:
        for number in range(self.clients):
            thread = threading.Thread(target=self.client, args=(number,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sending new batches; batches in flight still retry until accepted."""
        self.stopping.set()
        for thread in self.threads:
            thread.join()


class PlayerEvents:
    """One player's events, posted in batches of `batch` every `pause_s` into the same record
    as the load, with when each batch was sent and acknowledged (wall clock, to compare with
    the time of an erasure)."""

    def __init__(self, url: str, player_id: str, record: LoadRecord, batch=5, pause_s=0.2):
        self.url = url.rstrip("/") + "/v1/events"
        self.player_id, self.record = player_id, record
        self.batch, self.pause_s = batch, pause_s
        # (event_id, sent at, acknowledged at), seconds since the epoch.
        self.acknowledged: list[tuple[str, float, float]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.level = itertools.count(2)

    def group(self) -> list[dict]:
        return [
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "level_up",
                "player_id": self.player_id,
                "properties": {"level": next(self.level)},
            }
            for _ in range(self.batch)
        ]

    def run(self) -> None:
        session = requests.Session()
        while not self.stopping.is_set():
            group = self.group()
            ids = [event["event_id"] for event in group]
            with self.record.lock:
                self.record.sent.update(ids)
            sent_at = time.time()
            try:
                response = session.post(self.url, json=group, timeout=15)
                outcome = str(response.status_code)
            except requests.RequestException:
                outcome = "error"
            self.record.note(outcome)
            if outcome == "202":
                acknowledged_at = time.time()
                with self.record.lock:
                    self.record.accepted.update(ids)
                self.acknowledged += [(i, sent_at, acknowledged_at) for i in ids]
            self.stopping.wait(self.pause_s)

    def start(self) -> PlayerEvents:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def split(self, erased_at: float) -> tuple[set[str], set[str], set[str]]:
        """The acknowledged event_ids answered before `erased_at` (received before it), sent
        after it (received after it), and the rest (in flight across it: either)."""
        before = {i for i, _, answered in self.acknowledged if answered <= erased_at}
        after = {i for i, sent, _ in self.acknowledged if sent > erased_at}
        everything = {i for i, _, _ in self.acknowledged}
        return before, after, everything - before - after
