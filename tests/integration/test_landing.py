"""The landing job on real Kafka and HDFS: exact counts, quarantine, dedupe with no time
limit, OPTIMIZE, schema evolution, erasure, the completeness audit, and the same rows for
Spark and a reader without Spark while the landing service runs.

Landing and the audit run in the tests' Spark session (`tests.helpers.stack.land`); the
landing service runs as `spark-submit --service`, as `make stream` runs it. A kill -9 of the
landing driver mid-batch is a fault case: tests/integration/test_faults.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from deltalake import DeltaTable
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from pyspark.sql import functions as F

from events.envelope import enrich, to_kafka
from events.shop import UNLOCKS
from ingest.players import PlayerState
from ingest.settings import IngestSettings
from jobs import forget_player
from jobs.entry import refresh
from jobs.state import refresh_states, state_path, states
from lake.files import events_version_of, table_version
from lake.io import read_events, read_quarantine, read_table
from lake.settings import LakeSettings
from runtime.layout import LakeLayout
from runtime.marts import MARTS
from simulator.players import simulate
from stack.ingest_process import ingest_server
from streaming.batch_record import BatchRecord
from streaming.compact import optimize
from streaming.metrics import age_consumer, oldest_unread_age_s
from streaming.transforms import parse_records, valid_events
from tests.helpers.events import MALFORMED_RECORDS
from tests.helpers.stack import (
    audit,
    copy_folder,
    free_port,
    land,
    landing_service,
    new_topic,
    own_lake,
    stop,
)
from tests.helpers.waiting import eventually


def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    keys: list[bytes] | None = None,
    partition: int | None = None,
):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    for i, value in enumerate(values):
        producer.send(topic, value, key=keys[i] if keys else None, partition=partition)
    producer.flush()
    producer.close()


def produce_events(bootstrap: str, topic: str, events: list[dict], partition: int | None = None):
    keyed = [to_kafka(e) for e in events]
    produce(bootstrap, topic, [v for _, v in keyed], [k for k, _ in keyed], partition)


CONTEXT = {"host": "test", "user_agent": "pytest", "remote_addr": "127.0.0.1", "api_version": "v1"}


def good_events(count: int, players: int = 20, received_at: str | None = None) -> list[dict]:
    return [
        enrich(
            {
                "event_type": "purchase",
                "player_id": f"p{i % players}",
                "properties": {"item": "sword", "price": 100, "currency": "gold", "quantity": 1},
            },
            CONTEXT,
            received_at,
        )
        for i in range(count)
    ]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def lake_env(topic: str, lake_root: str) -> dict:
    return {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root}


def landed_ids(spark, lake_root: str) -> Counter:
    events = read_events(spark, LakeLayout(lake_root).events_path)
    return Counter(row.event_id for row in events.select("event_id").collect())


@pytest.fixture(scope="module")
def landed_once(spark, kafka_admin, webhdfs, lake_settings):
    """A topic with 120 good events, one of them sent three times, and records that are not
    events produced straight into it with kcat; landed into a lake of its own."""
    topic = new_topic(kafka_admin)
    folder, lake_root = own_lake(lake_settings.lake_root)
    events = good_events(120)
    events += [dict(events[0]), dict(events[0])]  # a client's retries of one event
    produce_events(lake_settings.kafka_bootstrap, topic, events)
    subprocess.run(
        ["kcat", "-P", "-b", lake_settings.kafka_bootstrap, "-t", topic, "-p", "1"],
        input="\n".join(MALFORMED_RECORDS) + "\n",
        text=True,
        check=True,
        timeout=60,
    )
    land(spark, lake_env(topic, lake_root))
    yield {"topic": topic, "folder": folder, "events": events}
    webhdfs.delete(folder, recursive=True)


@pytest.fixture
def own_landed_lake(landed_once, webhdfs, lake_settings):
    """For one test that changes it: a copy of `landed_once`'s lake, of the same topic."""
    folder, lake_root = own_lake(lake_settings.lake_root)
    copy_folder(webhdfs, landed_once["folder"], folder)
    env = lake_env(landed_once["topic"], lake_root)
    yield {
        "topic": landed_once["topic"],
        "lake_root": lake_root,
        "events": landed_once["events"],
        "env": env,
    }
    webhdfs.delete(folder, recursive=True)


def test_good_and_malformed_records_land_with_exact_counts(spark, game):
    """The one landed lake of the run (the `game` fixture) holds every event sent once and
    every record that is not an event in quarantine, with its reason."""
    lake = game["env"]["QUESTLOG_LAKE_ROOT"]
    landed = read_events(spark, LakeLayout(lake).events_path)
    quarantined = read_quarantine(spark, LakeLayout(lake).quarantine_path)
    assert landed.count() == len(game["events"])
    assert quarantined.count() == len(MALFORMED_RECORDS)
    reasons = Counter(row.reason for row in quarantined.collect())
    assert reasons == {
        "malformed JSON": 2,
        "event_type: unknown event type 'buy_castle'": 1,
        "not a JSON object": 1,
        "(event): 'properties' is a required property": 1,
    }
    raw = {row.raw_value for row in quarantined.collect()}
    assert raw == set(MALFORMED_RECORDS)
    assert {row.kafka_partition for row in quarantined.collect()} == {1}


def test_the_same_event_id_three_times_is_landed_once(spark, game):
    landed = read_events(spark, LakeLayout(game["env"]["QUESTLOG_LAKE_ROOT"]).events_path)
    assert landed.where(F.col("event_id") == game["retried"]).count() == 1
    assert landed.select("event_id").distinct().count() == landed.count()


def test_landed_rows_keep_their_kafka_lineage(spark, game):
    landed = read_events(spark, LakeLayout(game["env"]["QUESTLOG_LAKE_ROOT"]).events_path)
    lineage = landed.select("kafka_topic", "kafka_partition", "kafka_offset").distinct()
    assert lineage.count() == len(game["events"])
    assert {r.kafka_topic for r in lineage.collect()} == {game["env"]["QUESTLOG_TOPIC"]}


def pushed_audit(lake_root: str) -> dict[str, float]:
    """What the last audit of `lake_root` pushed to the stack's Pushgateway."""
    gateway = LakeSettings.from_env().pushgateway_url
    groups = requests.get(f"{gateway}/api/v1/metrics", timeout=10).json()["data"]
    (group,) = [g for g in groups if g["labels"] == {"job": "questlog_audit", "lake": lake_root}]
    return {
        name: float(family["metrics"][0]["value"])
        for name, family in group.items()
        if name.startswith("questlog_audit_")
    }


def test_the_audit_passes_on_a_clean_run(spark, game):
    started = time.time()
    result = audit(spark, game["env"])
    assert result.returncode == 0, result.output[-3000:]
    pushed = pushed_audit(game["env"]["QUESTLOG_LAKE_ROOT"])
    assert pushed["questlog_audit_gaps"] == pushed["questlog_audit_duplicate_event_ids"] == 0
    assert pushed["questlog_audit_last_run_timestamp_seconds"] >= started
    # The per-partition table: the retried event's two copies dropped, nothing missing.
    lines = result.output.splitlines()
    header = lines[1].split()
    partitions = [dict(zip(header, map(int, line.split()), strict=True)) for line in lines[2:5]]
    totals = {name: sum(p[name] for p in partitions) for name in header}
    assert totals["landed"] == len(game["events"])
    assert (totals["quarantined"], totals["duplicate"], totals["missing"]) == (5, 2, 0)
    assert "complete: every committed offset" in result.output


def test_forgetting_a_player_erases_their_rows_and_recomputes_the_marts(spark, own_landed_lake):
    lake, env = own_landed_lake["lake_root"], own_landed_lake["env"]
    settings = LakeSettings.from_env({**os.environ, **env})
    mart_uri = settings.mart_path("player_purchases")
    refresh(spark, settings, MARTS["player_purchases"], settings.events_path, mart_uri)
    assert "p1" in set(DeltaTable(mart_uri).to_pandas().player_id)
    version = DeltaTable(mart_uri).version()
    sent = sum(1 for e in own_landed_lake["events"] if e["player_id"] == "p1")

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        forget_player.run(spark, settings, forget_player.parse_args(["--player", "p1"]))
    report, not_reached = printed.getvalue().splitlines()

    report = json.loads(report)
    assert "Kafka" in not_reached
    assert report["rows_removed"] == {"events": sent, "quarantine": 2}
    assert report["marts_recomputed"] == {"player_purchases": version + 1}
    assert (
        read_events(spark, LakeLayout(lake).events_path).where(F.col("player_id") == "p1").count()
        == 0
    )
    assert not any(
        '"p1"' in raw for raw in DeltaTable(LakeLayout(lake).quarantine_path).to_pandas().raw_value
    )
    assert "p1" not in set(DeltaTable(mart_uri).to_pandas().player_id)
    assert {"p0", "p2"} <= set(DeltaTable(mart_uri).to_pandas().player_id)
    # The erased rows' Kafka offsets are kept, so the audit accounts for them.
    assert read_table(spark, settings.erasures_path).count() == sent + 2
    result = audit(spark, env)
    assert result.returncode == 0, result.output[-3000:]


def state_rows(settings: LakeSettings, events_path: str) -> dict[str, list[str]]:
    """Every state table's rows as sorted JSON lines, read without Spark."""
    rows = {}
    for state in states(settings):
        table = DeltaTable(state_path(events_path, state.name)).to_pyarrow_table()
        rows[state.name] = sorted(json.dumps(row, default=str) for row in table.to_pylist())
    return rows


def test_state_refreshed_from_what_changed_equals_state_derived_from_every_event(
    spark, kafka_admin, lake_root, lake_settings
):
    """Late events, retries and an erasure after a first run: each refresh merges only what
    changed into the state, and every state table equals the one derived from every event
    (the marts are computed from the state alone, `jobs.state.state_inputs`)."""
    topic = new_topic(kafka_admin)
    env = lake_env(topic, lake_root)
    settings = replace(lake_settings, lake_root=lake_root, topic=topic)
    events_path = LakeLayout(lake_root).events_path
    first_day = datetime.now(UTC).date() - timedelta(days=6)

    def received(event: dict, at: str | None = None) -> dict:
        return enrich(event, CONTEXT, at or event["client_ts"])

    history = [received(e) for e in simulate(40, 5, 3, first_day)]
    produce_events(lake_settings.kafka_bootstrap, topic, history)
    land(spark, env)
    refresh_states(spark, settings, events_path)

    # A phone's offline queue: days 1 to 3 of other players, received now; retries of the
    # first run's events; and today's.
    now = iso(datetime.now(UTC))
    late = [received(e, now) for e in simulate(12, 3, 4, first_day + timedelta(days=1))]
    today = [received(e, now) for e in simulate(8, 1, 5, datetime.now(UTC).date())]
    produce_events(lake_settings.kafka_bootstrap, topic, late + history[::7] + today)
    land(spark, env)
    # Only inserts: each MERGE reads and rewrites the days the changes fall in.
    refresh_states(spark, settings, events_path)
    merged = state_rows(settings, events_path)
    refresh_states(spark, settings, events_path, full=True)
    assert merged == state_rows(settings, events_path)
    erased = history[0]["player_id"]
    forget_player.forget(spark, settings, [erased])
    for state in states(settings):
        path = state_path(events_path, state.name)
        assert DeltaTable(path).history(1)[0]["operation"] == "MERGE", state.name
    refreshed = state_rows(settings, events_path)

    refresh_states(spark, settings, events_path, full=True)
    assert refreshed == state_rows(settings, events_path)
    assert not any(erased in row for rows in refreshed.values() for row in rows)
    late_buyers = {e["player_id"] for e in late if e["event_type"] == "purchase"} - {erased}
    assert late_buyers
    assert late_buyers <= {json.loads(row)["player_id"] for row in refreshed["purchases"]}


def test_the_audit_fails_naming_the_partition_when_a_row_is_removed(spark, own_landed_lake):
    """A row of partition 2 is deleted on purpose, behind the landing job's back."""
    events_path = LakeLayout(own_landed_lake["lake_root"]).events_path
    victim = (
        read_events(spark, events_path)
        .where(F.col("kafka_partition") == 2)
        .orderBy("kafka_offset")
        .first()
    )
    assert victim is not None
    spark.sql(
        f"DELETE FROM delta.`{events_path}` "
        f"WHERE kafka_partition = 2 AND kafka_offset = {victim.kafka_offset}"
    )
    result = audit(spark, own_landed_lake["env"])
    assert result.returncode == 1
    assert f"partition 2: offsets {victim.kafka_offset}..{victim.kafka_offset}" in result.output
    assert pushed_audit(own_landed_lake["lake_root"])["questlog_audit_gaps"] > 0


def test_the_audit_fails_naming_an_event_id_that_has_two_rows(spark, own_landed_lake):
    """A row copied on purpose, behind the landing job's back: every offset is accounted for,
    yet the event counts twice."""
    events_path = LakeLayout(own_landed_lake["lake_root"]).events_path
    copy = spark.read.format("delta").load(events_path).orderBy("kafka_partition", "kafka_offset")
    copy = copy.limit(1)
    (copied,) = copy.collect()
    copy.write.format("delta").mode("append").save(events_path)
    result = audit(spark, own_landed_lake["env"])
    assert result.returncode == 1
    assert f"1 event_ids landed more than once, e.g. {copied.event_id} (2 rows)" in result.output
    pushed = pushed_audit(own_landed_lake["lake_root"])
    assert (pushed["questlog_audit_gaps"], pushed["questlog_audit_duplicate_event_ids"]) == (0, 1)


# How far a first copy's client_ts lies from its received_at (None: it has none), at and
# around the edges of what is believed (30 days back, 1 day ahead); how long after the
# first copy its retry is received.
CLIENT_TS_OFFSETS = [
    None,
    timedelta(0),
    -timedelta(days=30) + timedelta(seconds=1),
    -timedelta(days=30) - timedelta(seconds=1),
    timedelta(days=1) - timedelta(seconds=1),
    timedelta(days=1) + timedelta(seconds=1),
    -timedelta(days=400),
]
RETRY_DELAYS = [
    timedelta(0),
    timedelta(seconds=1),
    timedelta(hours=23),
    timedelta(days=29, hours=22),
    timedelta(days=30, seconds=1),
    timedelta(days=400),
]


def first_and_retry(received: datetime, offset, delay, keeps_client_ts: bool):
    """An event received at `received` and its retry received `delay` later, with the first
    copy's client_ts (or none, when the device dropped it)."""
    (first,) = good_events(1, received_at=iso(received))
    first.pop("client_ts", None)
    if offset is not None:
        first["client_ts"] = iso(received + offset)
    retry = {**first, "received_at": iso(received + delay)}
    if not keeps_client_ts:
        retry.pop("client_ts", None)
    return first, retry


def test_every_retry_lands_once_whatever_its_client_ts_and_received_at(
    spark, kafka_admin, lake_root, lake_settings
):
    """Every combination of the edges, and random ones besides: each retry is a duplicate,
    whether it comes in the batch of its first copy or a later one."""
    rng = random.Random(25)
    start = datetime.now(UTC) - timedelta(days=401)
    cases = [
        (offset, delay, keeps)
        for offset in CLIENT_TS_OFFSETS
        for delay in RETRY_DELAYS
        for keeps in (True, False)
    ]
    cases += [
        (
            timedelta(seconds=rng.uniform(-60 * 86400, 3 * 86400)),
            timedelta(seconds=rng.uniform(0, 400 * 86400)),
            rng.random() < 0.5,
        )
        for _ in range(16)
    ]
    pairs = [first_and_retry(start + timedelta(minutes=i), *case) for i, case in enumerate(cases)]
    topic = new_topic(kafka_admin)
    env = lake_env(topic, lake_root)
    # Every first copy, and a third of the retries in the same batch as their first copy.
    same_batch = [retry for i, (_, retry) in enumerate(pairs) if i % 3 == 0]
    produce_events(lake_settings.kafka_bootstrap, topic, [f for f, _ in pairs] + same_batch)
    first_run = land(spark, env)
    produce_events(lake_settings.kafka_bootstrap, topic, [retry for _, retry in pairs])
    second_run = land(spark, env)

    assert landed_ids(spark, lake_root) == Counter(first["event_id"] for first, _ in pairs)
    assert sum(r.duplicates for r in first_run) == len(same_batch)
    assert sum(r.landed for r in second_run) == 0
    assert sum(r.duplicates for r in second_run) == len(pairs)
    result = audit(spark, env)
    assert result.returncode == 0, result.output[-3000:]


def files_per_day(events_uri: str) -> Counter:
    return Counter(uri.split("event_date=")[1][:10] for uri in DeltaTable(events_uri).file_uris())


def test_a_skewed_catch_up_loses_nothing_and_optimize_then_keeps_every_row(
    spark, kafka_admin, lake_root, lake_settings
):
    topic = new_topic(kafka_admin)
    env = lake_env(topic, lake_root)
    events_uri = LakeLayout(lake_root).events_path
    tomorrow = iso(datetime.now(UTC) + timedelta(days=1))
    future = good_events(1, received_at=tomorrow)
    produce_events(lake_settings.kafka_bootstrap, topic, future, partition=1)
    hot = good_events(900)
    produce_events(lake_settings.kafka_bootstrap, topic, hot, partition=0)
    cold = [good_events(100), good_events(100)]
    for partition, events in enumerate(cold, start=1):
        produce_events(lake_settings.kafka_bootstrap, topic, events, partition=partition)
    land(spark, env, "--max-offsets-per-trigger", "300")
    sent = Counter(e["event_id"] for e in future + hot + cold[0] + cold[1])
    assert landed_ids(spark, lake_root) == sent

    # Many micro-batches left many small files of today; OPTIMIZE makes one per day.
    before = files_per_day(events_uri)
    assert max(before.values()) > 1
    result = optimize(spark, events_uri)
    assert result["files_removed"] == sum(n for n in before.values() if n > 1)
    assert set(files_per_day(events_uri).values()) == {1}
    assert landed_ids(spark, lake_root) == sent
    result = audit(spark, env)
    assert result.returncode == 0, result.output[-3000:]


def test_a_purchase_at_schema_version_2_lands_next_to_version_1_rows(
    spark, kafka_admin, lake_root, lake_settings
):
    """The lake was made before v2 existed; v2's new property `store` becomes a column."""
    topic = new_topic(kafka_admin)
    env = lake_env(topic, lake_root)
    events_uri = LakeLayout(lake_root).events_path
    v1 = good_events(10)
    produce_events(lake_settings.kafka_bootstrap, topic, v1)
    records = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", lake_settings.kafka_bootstrap)
        .option("subscribe", topic)
        .load()
    )
    before_v2 = valid_events(parse_records(records)).withColumn(
        "properties", F.col("properties").dropFields("store")
    )
    before_v2.write.format("delta").partitionBy("event_date").save(events_uri)

    v2 = good_events(5)
    for event in v2:
        event["schema_version"] = 2
        event["properties"]["store"] = "web_shop"
    produce_events(lake_settings.kafka_bootstrap, topic, v2)
    land(spark, env)

    landed = read_events(spark, events_uri)
    stores = Counter(
        (row.schema_version, row.store)
        for row in landed.select("schema_version", "properties.store").collect()
    )
    assert stores == {(1, None): len(v1), (2, "web_shop"): len(v2)}


def owned(url: str, player_id: str) -> dict | None:
    """The player's state once it holds a sword, else None."""
    response = requests.get(f"{url}/v1/players/{player_id}", timeout=10)
    if response.status_code != 200:
        return None
    state = response.json()
    return state if "sword" in state["inventory"] else None


def caught_up(metrics_url: str, topic: str, events: int) -> dict[str, float] | None:
    """The landing service's unlabelled metrics once it has landed `events` and no partition
    of `topic` lags, else None."""
    text = requests.get(metrics_url, timeout=10).text
    values, lags = {}, []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("questlog_landing_consumer_lag"):
                lags.append(sample.labels["topic"] == topic and sample.value == 0)
            elif not sample.labels:
                values[sample.name] = sample.value
    if values.get("questlog_landing_events_landed_total") != events or not lags or not all(lags):
        return None
    return values


def landed_batches(log: Path) -> int:
    """Batch records with landed rows among the complete lines of a landing log."""
    lines = log.read_text().splitlines(keepends=True)
    records = (BatchRecord.from_line(line) for line in lines if line.endswith("\n"))
    return sum(1 for record in records if record and record.landed)


def test_while_the_landing_service_runs_readers_agree_and_a_purchase_reaches_the_game(
    spark, kafka_admin, lake_root, lake_settings, tmp_path
):
    """Service mode as `make stream` runs it. Spark and the reader without Spark see the same
    rows of each version; the marts follow the stream in the service, so a purchase reaches
    the player endpoint with no mart run by hand."""
    topic = new_topic(kafka_admin)
    metrics_url = f"http://127.0.0.1:{free_port()}/metrics"
    env = {
        **lake_env(topic, lake_root),
        "QUESTLOG_PLAYER_STATE_REFRESH_S": "1",
        "QUESTLOG_LANDING_METRICS_BIND": metrics_url.split("/")[2],
    }
    started = time.time()
    layout = LakeLayout(lake_root)
    player = f"newcomer-{uuid.uuid4().hex[:8]}"
    purchase = {
        "event_type": "purchase",
        "player_id": player,
        "properties": {"item": "sword", "price": 100, "currency": "gold", "quantity": 1},
    }
    log_path = tmp_path / "landing.log"
    compared = []
    with log_path.open("w") as log:
        driver = landing_service(
            env, "--trigger-interval", "1 second", "--marts-every", "2", stdout=log
        )
        try:
            with ingest_server(free_port(), env=env, log_path=tmp_path / "ingest.log") as url:
                response = requests.post(f"{url}/v1/events", json=purchase, timeout=10)
                assert response.status_code == 202
                for round_number in range(3):
                    before = landed_batches(log_path)
                    produce_events(lake_settings.kafka_bootstrap, topic, good_events(500))
                    # Wait for a batch to commit after those, reading the batch records.
                    eventually(lambda: landed_batches(log_path) > before, 300, 0.2)  # noqa: B023
                    produce_events(lake_settings.kafka_bootstrap, topic, good_events(500))
                    table = DeltaTable(layout.events_path)
                    rust_count = table.to_pyarrow_table(columns=["event_id"]).num_rows
                    spark_count = read_table(spark, layout.events_path, version=table.version())
                    compared.append(
                        (round_number, table.version(), rust_count, spark_count.count())
                    )
                state = eventually(lambda: owned(url, player), timeout_s=300, every_s=1)
            # Every event sent, counted by the service's metrics once landed, and no lag.
            landed = eventually(lambda: caught_up(metrics_url, topic, 3001), 300, 0.5)
        finally:
            stop(driver)
    assert landed["questlog_landing_records_read_total"] == 3001
    assert landed["questlog_landing_end_to_end_latency_seconds_count"] == 3001
    assert landed["questlog_landing_last_commit_timestamp_seconds"] > started
    assert all(rust == sparks for _, _, rust, sparks in compared), compared
    assert len({version for _, version, _, _ in compared}) == 3, compared
    assert state["inventory"]["sword"]["quantity"] == 1
    assert state["purchases"]["purchases"] == 1
    assert state["data_age_s"] >= 0
    # Every mart records the events version it reflects: one the table has.
    versions = [events_version_of(layout.mart_path(name)) for name in MARTS]
    assert None not in versions
    assert max(versions) <= table_version(layout.events_path)


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
    land(spark, lake_env(topic, lake_root))
    landed = read_events(spark, LakeLayout(lake_root).events_path)
    assert [r.event_id for r in landed.collect()] == [event["event_id"]]


def test_a_landed_purchase_and_its_erasure_reach_the_player_endpoint_with_no_marts_run(
    spark, ingest_url, topic, lake_root
):
    """The player endpoint reads what landed since the marts (none here) from the events'
    change feed on HDFS: a purchase shows once landed, and is gone once its player is erased."""
    player = f"early-{uuid.uuid4().hex[:8]}"
    for item in ("sword", "sword", "horse"):
        purchase = {
            "event_type": "purchase",
            "player_id": player,
            "properties": {"item": item, "price": 100, "currency": "gold", "quantity": 1},
        }
        response = requests.post(f"{ingest_url}/v1/events", json=purchase, timeout=10)
        assert response.status_code == 202
    land(spark, lake_env(topic, lake_root))
    settings = IngestSettings(lake_root=lake_root, player_state_refresh_s=0, player_state_wait_s=30)
    state = PlayerState.from_settings(settings)
    answer, _ = state.lookup(player)
    assert {item: owned["quantity"] for item, owned in answer["inventory"].items()} == {
        "sword": 2,
        "horse": 1,
    }
    assert answer["purchases"]["purchases"] == 3
    assert answer["unlocks"] == sorted({UNLOCKS["sword"], UNLOCKS["horse"]})
    assert answer["computed_at"] is None and answer["landed_through"] is not None
    forget_player.forget(spark, LakeSettings(lake_root=lake_root), [player])
    # Each lookup starts a read in the background and answers from the last one finished.
    eventually(lambda: state.lookup(player)[0] is None, timeout_s=60, every_s=0.5)


def test_the_lag_in_seconds_is_the_age_of_the_oldest_record_not_landed(kafka_admin, lake_settings):
    topic = new_topic(kafka_admin)
    two_minutes_ago = int((time.time() - 120) * 1000)
    producer = KafkaProducer(bootstrap_servers=lake_settings.kafka_bootstrap, acks="all")
    for offset in range(3):  # the first one two minutes old, the others new
        stamp = two_minutes_ago if offset == 0 else None
        producer.send(topic, b"{}", partition=0, timestamp_ms=stamp)
    producer.flush()
    consumer = age_consumer(lake_settings.kafka_bootstrap)
    ends = {(topic, 0): 0, (topic, 1): 0}
    ages = oldest_unread_age_s(consumer, ends, {(topic, 0): 3, (topic, 1): 0}, time.time())
    assert 119 <= ages[(topic, 0)] <= 180
    assert ages[(topic, 1)] == 0
    later = oldest_unread_age_s(consumer, {(topic, 0): 1}, {(topic, 0): 2}, time.time())
    assert later[(topic, 0)] < 60


def test_an_erased_players_events_still_in_kafka_never_land_even_from_a_replay(
    spark, kafka_admin, lake_root, lake_settings
):
    """Some of p1's events land, more wait in Kafka when p1 is erased: none of them lands
    afterwards, not in the next run nor in a replay from a fresh checkpoint, and the audit
    counts them as erased; what p1 sends after the erasure lands."""
    topic = new_topic(kafka_admin)
    env = lake_env(topic, lake_root)
    settings = replace(lake_settings, lake_root=lake_root, topic=topic)
    sent_before = good_events(30, players=3, received_at=iso(datetime.now(UTC)))
    produce_events(lake_settings.kafka_bootstrap, topic, sent_before[:15])
    land(spark, env)
    produce_events(lake_settings.kafka_bootstrap, topic, sent_before[15:])
    report = forget_player.forget(spark, settings, ["p1"])
    assert report["rows_removed"]["events"] == 5
    sent_after = good_events(6, players=3, received_at=iso(datetime.now(UTC)))
    produce_events(lake_settings.kafka_bootstrap, topic, sent_after)

    batches = land(spark, env)
    assert sum(batch.erased for batch in batches) == 5
    expected = {e["event_id"] for e in sent_before + sent_after if e["player_id"] != "p1"}
    expected |= {e["event_id"] for e in sent_after if e["player_id"] == "p1"}
    assert landed_ids(spark, lake_root) == Counter(expected)
    result = audit(spark, env)
    assert result.returncode == 0, result.output[-3000:]

    land(spark, env, "--checkpoint-root", f"{lake_root}/replay-checkpoints")
    assert landed_ids(spark, lake_root) == Counter(expected)
