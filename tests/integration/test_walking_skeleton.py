"""HTTP -> Kafka -> Spark -> HDFS Parquet -> per-player aggregates, on the real stack: the
walk-through as a user runs it (the `game` fixture: events sent over HTTP, `spark-submit` of
the landing job and of one mart's entry point), and the seed's routes and kcat."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
import requests

from lake.io import read_events, read_mart
from runtime.layout import LakeLayout
from tests.helpers.events import SEED_TEXTS


def test_events_sent_over_http_land_once_in_hdfs_parquet(spark, game):
    events, env = game["events"], game["env"]
    landed = read_events(spark, LakeLayout(env["QUESTLOG_LAKE_ROOT"]).events_path)
    landed_ids = [row.event_id for row in landed.select("event_id").collect()]
    assert len(landed_ids) == len(events)
    assert set(landed_ids) == {e["event_id"] for e in events}
    partitions = {row.event_type for row in landed.select("event_type").distinct().collect()}
    assert partitions == {e["event_type"] for e in events}


def expected_player_purchases(events: list[dict]) -> pd.DataFrame:
    """The mart computed independently with pandas from what the simulator sent."""
    frame = pd.DataFrame(events)
    frame["day"] = pd.to_datetime(frame["client_ts"]).dt.date
    buys = frame[frame["event_type"] == "purchase"].copy()
    props = pd.DataFrame(list(buys["properties"]), index=buys.index)
    buys = buys.join(props)
    buys["amount"] = buys["price"] * buys["quantity"]
    per_player = buys.groupby("player_id").agg(
        purchases=("event_id", "count"),
        items_bought=("quantity", "sum"),
        gold_spent=("amount", "sum"),
        distinct_items=("item", "nunique"),
    )
    active = frame.groupby("player_id").agg(active_days=("day", "nunique"))
    expected = active.join(per_player).fillna(0).reset_index()
    return expected.astype({"purchases": int, "items_bought": int, "distinct_items": int})


def test_player_purchases_equal_a_pandas_computation_of_what_was_sent(spark, game):
    events, env = game["events"], game["env"]
    mart = read_mart(spark, LakeLayout(env["QUESTLOG_LAKE_ROOT"]).mart_path("player_purchases"))
    columns = ["player_id", "active_days", "purchases", "items_bought", "gold_spent"]
    actual = mart.select(*columns, "distinct_items").toPandas()
    expected = expected_player_purchases(events)
    merged = expected.merge(actual, on="player_id", suffixes=("_expected", ""), how="outer")
    assert len(merged) == len(expected) == len(actual)
    for column in columns[1:] + ["distinct_items"]:
        assert list(merged[column]) == pytest.approx(list(merged[f"{column}_expected"])), column


def test_seed_routes_answer_the_seed_text_over_http(ingest_url):
    for route, text in SEED_TEXTS.items():
        response = requests.get(ingest_url + route, timeout=10)
        assert response.status_code == 200
        assert response.text == text


def test_kcat_prints_the_events_as_in_the_seed(ingest_url, topic, lake_settings):
    sent = [
        requests.get(f"{ingest_url}/purchase_a_sword?player_id=p{i}", timeout=10) for i in range(4)
    ]
    assert all(r.status_code == 200 for r in sent)
    output = subprocess.run(
        [
            "kcat",
            "-C",
            "-b",
            lake_settings.kafka_bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    events = [json.loads(line) for line in output.splitlines()]
    assert sorted(e["player_id"] for e in events) == ["p0", "p1", "p2", "p3"]
    assert {e["properties"]["item"] for e in events} == {"sword"}
