"""The registry of marts names a transform, an entry point and a table for every mart."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from events.shop import SPENT_COLUMN
from ingest.players import MARTS as PLAYER_MARTS
from runtime.layout import LakeLayout
from runtime.marts import MARTS, marts_of, player_state_marts

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


def test_the_player_endpoint_reads_the_marts_the_registry_marks():
    assert list(PLAYER_MARTS) == player_state_marts()
    assert {"player_inventory", "player_purchases", "spender_segments"} == set(PLAYER_MARTS)


def test_the_biggest_spenders_come_first_in_player_purchases():
    assert MARTS["player_purchases"].order_by[0] == f"{SPENT_COLUMN} DESC"


def test_a_mart_lives_under_the_lake_root_by_its_name():
    assert (
        LakeLayout("hdfs://nn:9000/q/").mart_path("retention") == "hdfs://nn:9000/q/marts/retention"
    )


def test_every_mart_is_computed_from_the_columns_run_marts_keeps(spark):
    """run_marts keeps only MART_INPUT_COLUMNS of the events: every transform must resolve
    against a frame of exactly those (a missing column fails at analysis, before any data)."""
    from jobs.entry import transform
    from runtime.marts import MART_INPUT_COLUMNS
    from tests.helpers.events import EVENTS

    events = spark.createDataFrame([], EVENTS)
    assert tuple(events.columns) == MART_INPUT_COLUMNS
    for name, spec in MARTS.items():
        assert transform(spec, events).columns, name
