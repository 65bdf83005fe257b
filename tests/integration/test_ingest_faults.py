"""Faults stay contained: a broker that is down or hangs, a NameNode that hangs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from lake.io import read_events
from lake.settings import LakeSettings
from runtime.layout import LakeLayout
from stack.ingest_process import ingest_server
from tests.helpers.stack import consume_all, free_port, land

# publish_timeout_s is 2 s; a request may take a little longer to be answered.
DEADLINE_S = 2.5


def event(event_id: str | None = None) -> dict:
    """A level-up; each event_id has its own player, so no per-player limit is reached."""
    player_id = f"p-{event_id}" if event_id else "p1"
    body = {"event_type": "level_up", "player_id": player_id, "properties": {"level": 2}}
    if event_id:
        body["event_id"] = event_id
    return body


def timed_post(url: str, body: dict | list) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.post(f"{url}/v1/events", json=body, timeout=30)
    return response.status_code, time.monotonic() - started


@contextlib.contextmanager
def stopped(service: str):
    """The stack's `service` process frozen (SIGSTOP) inside the block: it hangs, not dies."""
    pid = int((LakeSettings.from_env().stack_dir / "pids" / f"{service}.pid").read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_with_no_broker_64_concurrent_requests_each_get_503_in_time(tmp_path):
    nobody = f"127.0.0.1:{free_port()}"
    env = {"QUESTLOG_KAFKA_BOOTSTRAP": nobody, "QUESTLOG_TOPIC": "events"}
    log = tmp_path / "ingest.log"
    with (
        ingest_server(free_port(), env=env, log_path=log, ready_path="/healthz") as url,
        ThreadPoolExecutor(64) as pool,
    ):
        answers = list(pool.map(lambda _: timed_post(url, event()), range(64)))
    assert [status for status, _ in answers] == [503] * 64
    slowest = max(seconds for _, seconds in answers)
    assert slowest < DEADLINE_S, f"slowest 503 took {slowest:.2f} s"


def test_a_hanging_broker_keeps_every_request_in_its_deadline_and_retries_count_once(
    ingest_url, topic, lake_settings, lake_root, spark
):
    assert timed_post(ingest_url, event())[0] == 202  # the producer is connected
    sent: dict[str, int] = {}

    def send_for(seconds: float) -> list[tuple[str, int, float]]:
        """One event, then a batch of two, and again: both of a worker's producers wait."""
        answers, until, size = [], time.monotonic() + seconds, 1
        while time.monotonic() < until:
            event_ids = [str(uuid.uuid4()) for _ in range(size)]
            body = event(event_ids[0]) if size == 1 else [event(e) for e in event_ids]
            status, took = timed_post(ingest_url, body)
            answers += [(event_id, status, took) for event_id in event_ids]
            size = 3 - size
        return answers

    with ThreadPoolExecutor(16) as pool:
        running = [pool.submit(send_for, 5.0) for _ in range(16)]
        time.sleep(1.0)
        with stopped("kafka"):
            time.sleep(3.0)
        answers = [answer for future in running for answer in future.result()]
    for event_id, status, _ in answers:
        sent[event_id] = status
    assert {status for _, status, _ in answers} <= {202, 503}
    assert 503 in sent.values(), "the broker's hang was not noticed"
    slowest = max(took for _, _, took in answers)
    assert slowest < DEADLINE_S, f"a request waited {slowest:.2f} s"

    # The client's side of the contract: retry every 503 with its event_id until accepted.
    for event_id, status in sent.items():
        deadline = time.monotonic() + 60
        while status != 202:
            assert time.monotonic() < deadline, "the service did not recover after the broker"
            status = timed_post(ingest_url, event(event_id))[0]
    on_topic = [
        json.loads(r.value)["event_id"] for r in consume_all(lake_settings.kafka_bootstrap, topic)
    ]
    # Every event is on the topic, perhaps twice; the lake keeps each event_id once.
    assert set(sent) <= set(on_topic)
    env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root}
    land(spark, env)
    landed = Counter(
        row.event_id
        for row in read_events(spark, LakeLayout(lake_root).events_path)
        .select("event_id")
        .collect()
    )
    assert set(landed) == set(on_topic) and set(landed.values()) == {1}


def test_a_hanging_namenode_leaves_posts_unaffected_and_player_reads_bounded(ingest_url):
    def read_player() -> tuple[int, float]:
        started = time.monotonic()
        response = requests.get(f"{ingest_url}/v1/players/p1", timeout=30)
        return response.status_code, time.monotonic() - started

    with stopped("namenode"), ThreadPoolExecutor(48) as pool:
        reads = [pool.submit(read_player) for _ in range(32)]
        posts = [pool.submit(timed_post, ingest_url, event()) for _ in range(16)]
        read_answers = [future.result() for future in reads]
        post_answers = [future.result() for future in posts]
    assert [status for status, _ in post_answers] == [202] * 16
    assert max(took for _, took in post_answers) < DEADLINE_S
    # Nothing was ever read from the lake: each read is refused once its wait is over.
    assert [status for status, _ in read_answers] == [503] * 32
    assert max(took for _, took in read_answers) < 5.0
