"""The registry of marts names a transform, an entry point and a table for every mart."""

from __future__ import annotations

import inspect
from datetime import datetime
from pathlib import Path

import pytest

from events.shop import SPENT_COLUMN
from ingest.players import MARTS as PLAYER_MARTS
from jobs.entry import in_mart_order, transform
from runtime.layout import LakeLayout
from runtime.marts import MART_INPUT_COLUMNS, MARTS, marts_of, player_state_marts
from streaming.landed import landed_events_schema
from tests.helpers.events import EVENTS, event

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(MARTS))
def test_every_mart_has_a_transform_of_the_events_and_an_entry_point(name):
    spec = MARTS[name]
    module, function = spec.transform.split(":")
    rows_of = getattr(__import__(module, fromlist=[function]), function)
    parameters = list(inspect.signature(rows_of).parameters)
    assert parameters[0] == "events"
    assert ("as_of" in parameters) == spec.as_of_today
    entry_point = REPO / "jobs" / f"{name}.py"
    assert f'run_mart("{name}")' in entry_point.read_text()


def test_the_purchase_and_kpi_marts_together_are_every_mart():
    assert sorted(marts_of("jobs.marts") + marts_of("jobs.kpis")) == sorted(MARTS)


def test_the_player_endpoint_reads_the_marts_the_registry_marks_and_each_is_per_player(spark):
    """The endpoint looks a player up by id in each mart it reads: each must hold one row per
    player, keyed by player_id."""
    assert list(PLAYER_MARTS) == player_state_marts()
    t = datetime(2026, 11, 20, 10)
    events = spark.createDataFrame(
        [
            event("ana", t, item="sword", price=100.0),
            event("ana", t.replace(day=21), item="horse", price=250.0),
            event("bo", t, event_type="join_guild"),
            event("bo", t.replace(hour=11), item="shield", price=50.0),
        ],
        EVENTS,
    )
    for name in PLAYER_MARTS:
        rows = transform(MARTS[name], events)
        assert sorted(r.player_id for r in rows.select("player_id").collect()) == ["ana", "bo"]


def test_the_biggest_spenders_come_first_in_player_purchases_shown_in_its_order(spark):
    t = datetime(2026, 11, 20, 10)
    buys = [("cy", 20.0), ("ana", 500.0), ("bo", 90.0), ("dee", 90.0)]
    events = spark.createDataFrame(
        [event(player, t, item="sword", price=price) for player, price in buys], EVENTS
    )
    mart = MARTS["player_purchases"]
    ordered = in_mart_order(mart, transform(mart, events))
    assert [(r.player_id, r[SPENT_COLUMN]) for r in ordered.collect()] == [
        ("ana", 500.0),
        ("bo", 90.0),  # a tie is broken by player_id
        ("dee", 90.0),
        ("cy", 20.0),
    ]


def test_a_mart_lives_under_the_lake_root_by_its_name():
    assert (
        LakeLayout("hdfs://nn:9000/q/").mart_path("retention") == "hdfs://nn:9000/q/marts/retention"
    )


def test_every_mart_is_computed_from_the_columns_run_marts_keeps(spark):
    """run_marts keeps only MART_INPUT_COLUMNS of the landed events: every transform must
    resolve against those (a missing column fails at analysis, before any data) and give the
    same columns and types as from the whole landed table."""
    landed = spark.createDataFrame([], landed_events_schema(spark))
    kept = landed.select(*MART_INPUT_COLUMNS)
    for name, spec in MARTS.items():
        assert transform(spec, kept).schema == transform(spec, landed).schema, name
