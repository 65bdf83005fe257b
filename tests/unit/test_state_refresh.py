"""State tables move from one `events` version to the next once, whoever refreshes them."""

from __future__ import annotations

import json
from datetime import date

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from bench.synthetic_lake import synthetic_events
from jobs.state import (
    State,
    laid_out,
    merge_changes,
    rebuild,
    refresh_app_id,
    refresh_states,
    state_path,
    states,
)
from lake.files import table_id
from lake.settings import LakeSettings
from streaming.sink import CHANGE_FEED

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


def test_a_merge_reads_and_rewrites_only_the_days_its_changes_fall_in(spark, tmp_path):
    """A state partitioned by day: new events of one day leave the other days' files as
    they were, unread (one of them is gone from the disk), and the sums come out as if
    derived from every event."""

    def derive(events):
        return events.groupBy("player_id", "event_date").agg(F.count("*").alias("buys"))

    state = State(
        "buys_per_day",
        ("player_id", "event_date"),
        derive,
        {"buys": "t.buys + s.buys"},
        partition="event_date",
    )
    path = tmp_path / "buys_per_day"
    schema = "player_id string, event_date date"
    first = spark.createDataFrame(
        [("p1", date(2026, 1, 1)), ("p1", date(2026, 1, 2)), ("p2", date(2026, 1, 3))], schema
    )
    rebuild(spark, state, str(path), first, 0, "refresh-of-buys-per-day")
    (unread,) = (path / "event_date=2026-01-03").glob("*.parquet")
    unread.unlink()
    changes = spark.createDataFrame(
        [("p1", date(2026, 1, 2), "insert"), ("p3", date(2026, 1, 2), "insert")],
        f"{schema}, _change_type string",
    )
    events = first.unionByName(changes.drop("_change_type"))

    merge_changes(spark, state, str(path), changes, events, 1, "refresh-of-buys-per-day")

    table = spark.read.format("delta").load(str(path)).where("event_date < '2026-01-03'")
    rows = {(row.player_id, row.event_date.day): row.buys for row in table.collect()}
    assert rows == {("p1", 1): 1, ("p1", 2): 2, ("p3", 2): 1}
    metrics = DeltaTable.forPath(spark, str(path)).history(1).first()["operationMetrics"]
    assert (metrics["numTargetFilesRemoved"], metrics["numTargetRowsCopied"]) == ("1", "0")


def test_a_table_in_another_layout_is_told_apart(spark, tmp_path):
    """A state table written unpartitioned, or without a key column, by an older questlog is
    derived again rather than merged into."""
    state = State("marks", ("player_id", "event_date"), lambda e: e, {}, partition="event_date")
    rows = spark.createDataFrame([("p1", date(2026, 1, 1))], "player_id string, event_date date")
    rows.write.format("delta").save(str(tmp_path / "flat"))
    rows.drop("event_date").write.format("delta").save(str(tmp_path / "keyless"))
    rebuild(spark, state, str(tmp_path / "laid_out"), rows, 0, None)

    assert laid_out(str(tmp_path / "laid_out"), state)
    assert not laid_out(str(tmp_path / "flat"), state)
    assert not laid_out(str(tmp_path / "keyless"), state)


def test_a_state_table_of_an_older_layout_is_derived_again_at_the_version_it_reflects(
    spark, tmp_path
):
    """`session_marks` as it was written before it was kept per day and partitioned, up to
    date and with its refresh transaction at the newest `events` version: the next refresh
    derives it again in today's layout (a refresh transaction would be skipped as done)."""
    settings = LakeSettings.from_env()
    events_path = str(tmp_path / "events")
    events = synthetic_events(spark, 500, days=3)
    events.write.format("delta").option(CHANGE_FEED, "true").save(events_path)
    version = refresh_states(spark, settings, events_path)
    (marks,) = [state for state in states(settings) if state.name == "session_marks"]
    path = state_path(events_path, "session_marks")
    older = derive_without_days(events)
    (
        older.write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .option("userMetadata", json.dumps({"events_version": version}))
        .save(path)
    )
    assert not laid_out(path, marks)
    # The first refresh's transaction, still recorded: a write in it at `version` is skipped.
    older.write.format("delta").mode("append").option(
        "txnAppId", refresh_app_id(marks, table_id(events_path))
    ).option("txnVersion", version).save(path)
    assert spark.read.format("delta").load(path).count() == older.count()

    refresh_states(spark, settings, events_path)

    assert laid_out(path, marks)
    table = spark.read.format("delta").load(path)
    assert table.count() == marks.derive(events).count() > 0


def derive_without_days(events):
    """Session marks per player and session, as they were kept before."""
    return (
        events.where(F.col("event_type").isin("session_start", "session_end"))
        .groupBy("player_id", "session_id")
        .agg(F.min("event_ts").alias("start"), F.max("event_ts").alias("end"))
    )
