"""State tables move from one `events` version to the next once, whoever refreshes them."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from jobs.state import State, merge_changes, rebuild

pytestmark = pytest.mark.tools  # Delta


def buys_state() -> State:
    def derive(events):
        return events.groupBy("player_id").agg(F.count("*").alias("buys"))

    return State("buys", ("player_id",), derive, {"buys": "t.buys + s.buys"})


def buys(spark, path: str) -> dict[str, int]:
    return {row.player_id: row.buys for row in spark.read.format("delta").load(path).collect()}


def test_two_refreshes_that_read_the_same_version_merge_its_changes_once(spark, tmp_path):
    """The landing service's refresh and an on-demand run_marts both read that the table
    reflects version 0 and both merge the changes up to 1: the second merge is skipped."""
    state, path = buys_state(), str(tmp_path / "buys")
    first = spark.createDataFrame([("p1",)], "player_id string")
    rebuild(spark, state, path, first, 0, "refresh-of-buys")
    changes = spark.createDataFrame(
        [("p1", "insert"), ("p2", "insert")], "player_id string, _change_type string"
    )
    events = first.unionByName(changes.select("player_id"))

    merge_changes(spark, state, path, changes, events, 1, "refresh-of-buys")
    merge_changes(spark, state, path, changes, events, 1, "refresh-of-buys")

    assert buys(spark, path) == {"p1": 2, "p2": 1}


def test_a_repair_derives_the_table_again_at_a_version_already_recorded(spark, tmp_path):
    state, path = buys_state(), str(tmp_path / "buys")
    events = spark.createDataFrame([("p1",), ("p1",)], "player_id string")
    rebuild(spark, state, path, events.limit(1), 3, "refresh-of-buys")

    rebuild(spark, state, path, events, 3, None)

    assert buys(spark, path) == {"p1": 2}
