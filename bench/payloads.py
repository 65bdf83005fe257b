"""Realistic events for the benchmarks: the simulator's players, enriched as the ingest does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import islice

from events.envelope import enrich, to_kafka, utc_now_iso
from simulator.players import simulate

CONTEXT = {
    "host": "127.0.0.1:5000",
    "user_agent": "questlog-bench",
    "remote_addr": "127.0.0.1",
    "api_version": "v1",
}
EVENT_ID_PREFIX = b'{"event_id":"'
POOL_SIZE = 5000


def client_events(count: int, seed: int = 7) -> list[dict]:
    """`count` events as a game client sends them, without event_id (the server adds it)."""
    first_day = datetime.now(UTC).date() - timedelta(days=7)
    events = list(islice(simulate(2000, 7, seed, first_day), count))
    for event in events:
        del event["event_id"]
    return events


def stored_purchase() -> bytes:
    """The Kafka value of one enriched purchase event, as the ingest service logs it."""
    purchase = next(e for e in client_events(200) if e["event_type"] == "purchase")
    return to_kafka(enrich(purchase, CONTEXT))[1]


def value_pool(seed: int) -> list[tuple[bytes, bytes]]:
    """(key, value without its event_id) of enriched events, received now."""
    received_at = utc_now_iso()
    pool = []
    for event in client_events(POOL_SIZE, seed):
        key, value = to_kafka(
            enrich({**event, "event_id": str(uuid.uuid4())}, CONTEXT, received_at)
        )
        assert value.startswith(EVENT_ID_PREFIX)  # enrich puts event_id first
        pool.append((key, value[len(EVENT_ID_PREFIX) + 36 :]))
    return pool
