"""The ingest service against the real broker: what a 202 promises is on the topic."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.helpers.stack import REPO_ROOT, consume_all


def level_up(player_id: str, level: int, event_id: str | None = None) -> dict:
    event = {"event_type": "level_up", "player_id": player_id, "properties": {"level": level}}
    if event_id:
        event["event_id"] = event_id
    return event


def test_accepted_events_are_on_the_topic_with_their_ids_and_player_key(
    ingest_url, topic, lake_settings
):
    batch = [level_up(f"p{i % 3}", i + 1) for i in range(30)]
    response = requests.post(f"{ingest_url}/v1/events", json=batch, timeout=10)
    assert response.status_code == 202
    accepted = response.json()["event_ids"]
    records = consume_all(lake_settings.kafka_bootstrap, topic)
    assert sorted(json.loads(r.value)["event_id"] for r in records) == sorted(accepted)
    for record in records:
        assert record.key.decode() == json.loads(record.value)["player_id"]


def test_a_players_events_come_back_in_order_from_one_partition(ingest_url, topic, lake_settings):
    for level in range(1, 21):
        player = "steady" if level % 2 else f"other{level}"
        response = requests.post(
            f"{ingest_url}/v1/events", json=level_up(player, level), timeout=10
        )
        assert response.status_code == 202
    records = [r for r in consume_all(lake_settings.kafka_bootstrap, topic) if r.key == b"steady"]
    assert len({r.partition for r in records}) == 1
    levels = [
        json.loads(r.value)["properties"]["level"] for r in sorted(records, key=lambda r: r.offset)
    ]
    assert levels == list(range(1, 21, 2))


def stack(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "stack.manager", *args], cwd=REPO_ROOT, check=True)


@pytest.fixture
def broker_restored():
    """Whatever the test does to the broker, it is running again afterwards."""
    yield
    stack("up", "kafka")


def test_with_the_broker_down_requests_get_503_in_time_and_nothing_accepted_is_lost(
    ingest_url, topic, lake_settings, broker_restored
):
    accepted: list[str] = []

    def send(event_id: str) -> requests.Response:
        response = requests.post(
            f"{ingest_url}/v1/events", json=level_up("outage", 1, event_id), timeout=30
        )
        if response.status_code == 202:
            accepted.extend(response.json()["event_ids"])
        return response

    for _ in range(5):
        assert send(str(uuid.uuid4())).status_code == 202

    stack("down", "kafka")
    during = []
    for _ in range(6):
        started = time.monotonic()
        response = send(str(uuid.uuid4()))
        during.append((response.status_code, time.monotonic() - started))
        assert "Retry-After" in response.headers or response.status_code != 503
    assert [status for status, _ in during] == [503] * 6
    # The bound is publish_timeout_s (2 s); allow for a loaded machine around it.
    assert max(seconds for _, seconds in during) < 4.0
    assert requests.get(f"{ingest_url}/readyz", timeout=30).status_code == 503

    stack("up", "kafka")
    retried = [str(uuid.uuid4()) for _ in range(5)]
    for event_id in retried:
        deadline = time.monotonic() + 60
        while send(event_id).status_code != 202:
            assert time.monotonic() < deadline, "the service did not recover after the broker"
    assert requests.get(f"{ingest_url}/readyz", timeout=30).status_code == 200

    on_topic = [
        json.loads(r.value)["event_id"] for r in consume_all(lake_settings.kafka_bootstrap, topic)
    ]
    assert set(accepted) <= set(on_topic)
    assert len(accepted) == len(set(accepted)) == 10
    assert all(on_topic.count(event_id) == 1 for event_id in accepted)
