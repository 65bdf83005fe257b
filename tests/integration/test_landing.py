"""The landing job on real Kafka and HDFS: exact counts, quarantine, dedupe, exactly once,
compaction and the completeness audit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
import requests
from kafka import KafkaProducer
from pyspark.sql import functions as F

from events.envelope import enrich, to_kafka
from lake.io import compacted_root, read_events, write_text_atomically
from streaming.compact import compact_day
from tests.integration.conftest import REPO_ROOT, VENV_BIN, new_topic, spark_submit

MALFORMED = [
    "purchased_sword",  # what the seed logged
    "{not json",
    '{"event_type": "buy_castle", "player_id": "p1"}',
    '{"event_type": "purchase", "schema_version": 1, "player_id": "p1", "event_id": "x",'
    ' "received_at": "2026-11-20T10:00:00Z"}',
    "[1, 2, 3]",
]


def produce(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes] | None = None):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    for i, value in enumerate(values):
        producer.send(topic, value, key=keys[i] if keys else None)
    producer.flush()
    producer.close()


def good_events(count: int, players: int = 20) -> list[dict]:
    return [
        enrich(
            {
                "event_type": "purchase",
                "player_id": f"p{i % players}",
                "properties": {"item": "sword", "price": 100, "currency": "gold", "quantity": 1},
            },
            {
                "host": "test",
                "user_agent": "pytest",
                "remote_addr": "127.0.0.1",
                "api_version": "v1",
            },
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def landed_lake(kafka_admin, webhdfs, lake_settings):
    """A topic with 120 good events, one of them sent three times, and malformed records
    produced straight into it with kcat; landed once with the AvailableNow mode."""
    topic = new_topic(kafka_admin)
    folder = f"/questlog-tests/{uuid.uuid4().hex[:10]}"
    lake_root = f"hdfs://{lake_settings.lake_root.split('/')[2]}{folder}"
    events = good_events(120)
    events += [dict(events[0]), dict(events[0])]  # a client's retries of one event
    keyed = [to_kafka(e) for e in events]
    produce(lake_settings.kafka_bootstrap, topic, [v for _, v in keyed], [k for k, _ in keyed])
    subprocess.run(
        ["kcat", "-P", "-b", lake_settings.kafka_bootstrap, "-t", topic, "-p", "1"],
        input="\n".join(MALFORMED) + "\n",
        text=True,
        check=True,
        timeout=60,
    )
    env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root}
    spark_submit("streaming/land_events.py", "--until-caught-up", env=env)
    yield {"topic": topic, "lake_root": lake_root, "events": events, "env": env}
    webhdfs.delete(folder, recursive=True)


def test_good_and_malformed_records_land_with_exact_counts(spark, landed_lake):
    lake = landed_lake["lake_root"]
    landed = read_events(spark, f"{lake}/lake/events")
    quarantined = spark.read.parquet(f"{lake}/lake/quarantine")
    assert landed.count() == 120
    assert quarantined.count() == len(MALFORMED)
    reasons = Counter(row.reason for row in quarantined.collect())
    assert reasons == {
        "malformed JSON": 2,
        "unknown event_type": 1,
        "not a JSON object": 1,
        "properties.item missing or not string": 1,
    }
    raw = {row.raw_value for row in quarantined.collect()}
    assert raw == set(MALFORMED)
    assert {row.kafka_partition for row in quarantined.collect()} == {1}


def test_the_same_event_id_three_times_is_landed_once(spark, landed_lake):
    landed = read_events(spark, f"{landed_lake['lake_root']}/lake/events")
    repeated = landed_lake["events"][0]["event_id"]
    assert landed.where(F.col("event_id") == repeated).count() == 1
    assert landed.select("event_id").distinct().count() == landed.count()


def test_landed_rows_keep_their_kafka_lineage(spark, landed_lake):
    landed = read_events(spark, f"{landed_lake['lake_root']}/lake/events")
    lineage = landed.select("kafka_topic", "kafka_partition", "kafka_offset").distinct()
    assert lineage.count() == 120
    assert {r.kafka_topic for r in lineage.collect()} == {landed_lake["topic"]}


def audit(env: dict):
    return spark_submit("streaming/audit.py", env=env, check=False)


def test_the_audit_passes_on_a_clean_run(landed_lake):
    result = audit(landed_lake["env"])
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "complete" in result.stdout


def test_compaction_keeps_the_multiset_of_rows_and_the_audit_still_passes(spark, landed_lake):
    events_path = f"{landed_lake['lake_root']}/lake/events"
    columns = [
        "event_id",
        "event_type",
        "player_id",
        "event_date",
        "kafka_partition",
        "kafka_offset",
    ]
    before = Counter(tuple(r) for r in read_events(spark, events_path).select(*columns).collect())
    days = [
        r.event_date
        for r in read_events(spark, events_path).select("event_date").distinct().collect()
    ]
    for day in days:
        result = compact_day(spark, events_path, day, files=1)
        assert result["replaced"] >= 1
    after = Counter(tuple(r) for r in read_events(spark, events_path).select(*columns).collect())
    assert after == before
    assert audit(landed_lake["env"]).returncode == 0


def test_the_audit_fails_naming_the_partition_when_rows_are_removed(spark, landed_lake):
    """Rows of partition 2 are dropped on purpose by a bad compaction of the day."""
    events_path = f"{landed_lake['lake_root']}/lake/events"
    events = read_events(spark, events_path)
    day = events.select("event_date").first().event_date
    day_rows = events.where(F.col("event_date") == day)
    victim = day_rows.where(F.col("kafka_partition") == 2).orderBy("kafka_offset").first()
    assert victim is not None
    kept = day_rows.where(
        ~((F.col("kafka_partition") == 2) & (F.col("kafka_offset") == victim.kafka_offset))
    ).drop("event_date")
    version = f"{compacted_root(events_path)}/event_date={day}/version={time.time_ns() // 10**6}"
    kept.write.partitionBy("event_type").parquet(version)
    sources = [
        f for f in events.inputFiles() if f"/event_date={day}/" in f and "_compacted" not in f
    ]
    previous = spark.read.parquet(events_path).inputFiles()
    replaced = [f for f in previous if f"/event_date={day}/" in f]
    write_text_atomically(
        spark, f"{version}/_sources.json", json.dumps(sorted(set(sources + replaced)))
    )

    result = audit(landed_lake["env"])
    assert result.returncode == 1
    assert f"partition 2: offsets {victim.kafka_offset}..{victim.kafka_offset}" in result.stdout


def test_kill_9_of_the_driver_then_restart_lands_every_event_exactly_once(
    spark, kafka_admin, lake_root, lake_settings
):
    topic = new_topic(kafka_admin)
    events = good_events(40_000, players=500)
    keyed = [to_kafka(e) for e in events]
    produce(lake_settings.kafka_bootstrap, topic, [v for _, v in keyed], [k for k, _ in keyed])
    env = {
        **os.environ,
        "QUESTLOG_TOPIC": topic,
        "QUESTLOG_LAKE_ROOT": lake_root,
        "SPARK_CONF_DIR": str(lake_settings.spark_conf_dir),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    driver = subprocess.Popen(
        [
            str(VENV_BIN / "spark-submit"),
            "streaming/land_events.py",
            "--service",
            "--trigger-interval",
            "1 second",
            "--max-offsets-per-trigger",
            "4000",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        # Kill once the first micro-batch is committed and the next ones are under way.
        batches = 0
        for line in driver.stdout:
            if '"query": "land_events"' in line and json.loads(line)["input_rows"] > 0:
                batches += 1
                if batches >= 2:
                    break
        assert batches >= 2, "the landing service stopped before two batches"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    partial = read_events(spark, f"{lake_root}/lake/events").count()
    assert 0 < partial < len(events)

    spark_submit("streaming/land_events.py", "--until-caught-up", env=env)
    landed = read_events(spark, f"{lake_root}/lake/events")
    assert landed.count() == len(events)
    assert landed.select("event_id").distinct().count() == len(events)
    ids = {r.event_id for r in landed.select("event_id").collect()}
    assert ids == {e["event_id"] for e in events}


def test_a_client_retrying_through_the_ingest_service_is_landed_once(
    spark, ingest_url, topic, lake_root
):
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "join_guild",
        "player_id": "retrier",
        "properties": {"guild_id": "wolves"},
    }
    for _ in range(3):
        assert requests.post(f"{ingest_url}/v1/events", json=event, timeout=10).status_code == 202
    env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root}
    spark_submit("streaming/land_events.py", "--until-caught-up", env=env)
    landed = read_events(spark, f"{lake_root}/lake/events")
    assert [r.event_id for r in landed.collect()] == [event["event_id"]]
