"""Erased players in landing: what they sent up to the erasure never lands, whether the
erasure came before the batch, while it was written, or before a run again after a crash;
what they send after it lands; every dropped offset is recorded as erased."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F

from streaming.completeness import account_for_offsets
from streaming.erased import (
    erased_events,
    erased_frame,
    player_hash,
    player_hash_column,
    record_erased_players,
    without_erased,
)
from streaming.keys import KeyIndex
from streaming.sink import BatchWriter, ensure_tables
from streaming.transforms import parse_records, valid_events
from tests.helpers.events import envelope, kafka_records

ERASED_AT = datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC)
BEFORE, AT, AFTER = "2026-11-20T10:00:00Z", "2026-11-20T10:00:30Z", "2026-11-20T10:01:00Z"


def batch_values() -> list[str]:
    """p1's events before, at and after the erasure, and p2's before it."""
    return [
        envelope("a", player_id="p1", received_at=BEFORE),
        envelope("b", player_id="p1", received_at=AT),
        envelope("c", player_id="p1", received_at=AFTER),
        envelope("d", player_id="p2", received_at=BEFORE),
    ]


def test_a_player_hash_is_the_same_in_python_and_in_spark(spark):
    frame = spark.createDataFrame([("p1",), ("spieler-ü",)], "player_id string")
    hashed = [r[0] for r in frame.select(player_hash_column(F.col("player_id"))).collect()]
    assert hashed == [player_hash("p1"), player_hash("spieler-ü")]
    assert hashed[0] == hashlib.sha256(b"p1").hexdigest()


def test_an_erased_players_events_up_to_the_erasure_belong_to_it_and_later_ones_do_not(spark):
    events = valid_events(parse_records(kafka_records(spark, batch_values())))
    erased = erased_frame(spark, [(player_hash("p1"), ERASED_AT)])
    assert sorted(r.event_id for r in erased_events(events, erased).collect()) == ["a", "b"]
    assert sorted(r.event_id for r in without_erased(events, erased).collect()) == ["c", "d"]


def test_a_player_erased_twice_is_erased_up_to_the_later_erasure(spark):
    events = valid_events(parse_records(kafka_records(spark, batch_values())))
    later = datetime(2026, 11, 20, 10, 2, tzinfo=UTC)
    erased = erased_frame(spark, [(player_hash("p1"), ERASED_AT), (player_hash("p1"), later)])
    assert sorted(r.event_id for r in erased_events(events, erased).collect()) == ["a", "b", "c"]


@pytest.fixture
def lake(spark, tmp_path):
    """A local lake with its tables, and a batch writer of one checkpoint into it."""
    paths = {name: f"file:{tmp_path}/lake/{name}" for name in
             ("events", "quarantine", "event_keys", "erasures", "erased_players")}  # fmt: skip
    ensure_tables(spark, paths["events"], paths["quarantine"], paths["event_keys"])

    def writer() -> BatchWriter:
        return BatchWriter(
            paths["events"],
            paths["quarantine"],
            KeyIndex(spark, paths["event_keys"]),
            f"file:{tmp_path}/checkpoints/land_events",
            erased_players_path=paths["erased_players"],
            erasures_path=paths["erasures"],
        )

    return paths, writer


def landed(spark, paths) -> list[str]:
    return sorted(r.event_id for r in spark.read.format("delta").load(paths["events"]).collect())


def audit_outcomes(spark, paths, records) -> dict[str, str]:
    """The audit's outcome of each record of the batch, by event_id."""
    read = spark.read.format("delta").load
    outcomes = account_for_offsets(
        records, read(paths["events"]), read(paths["quarantine"]), read(paths["erasures"])
    )
    return {r.event_id: r.outcome for r in outcomes.collect()}


@pytest.mark.tools  # Delta tables
def test_events_of_a_player_erased_before_the_batch_are_not_landed_and_count_as_erased(spark, lake):
    paths, writer = lake
    record_erased_players(spark, paths["erased_players"], ["p1"], ERASED_AT)
    records = kafka_records(spark, batch_values())
    batch = writer()
    batch(records, 0)
    assert landed(spark, paths) == ["c", "d"]
    assert batch.counts[0] == {"landed": 2, "quarantined": 0, "erased": 2, "duplicates": 0}
    assert audit_outcomes(spark, paths, records) == {
        "a": "erased", "b": "erased", "c": "landed", "d": "landed"
    }  # fmt: skip


@pytest.mark.tools  # Delta tables
def test_an_erasure_committed_while_the_batch_is_appended_removes_what_the_batch_wrote(spark, lake):
    paths, writer = lake
    batch = writer()
    appended = batch.append_new

    def append_then_erase(events, batch_id):
        result = appended(events, batch_id)
        # The erasure commits after the batch read the erased players, before it looked again.
        record_erased_players(spark, paths["erased_players"], ["p1"], ERASED_AT)
        return result

    batch.append_new = append_then_erase
    records = kafka_records(spark, batch_values())
    batch(records, 0)
    assert landed(spark, paths) == ["c", "d"]
    assert batch.counts[0]["erased"] == 2
    assert audit_outcomes(spark, paths, records)["a"] == "erased"


@pytest.mark.tools  # Delta tables
def test_a_batch_run_again_after_a_crash_removes_what_its_first_run_appended_before_an_erasure(
    spark, lake
):
    paths, writer = lake
    first = writer()

    def crash(events):
        raise RuntimeError("driver killed")

    first.erase_belated = crash
    records = kafka_records(spark, batch_values())
    with pytest.raises(RuntimeError):
        first(records, 0)
    assert landed(spark, paths) == ["a", "b", "c", "d"]
    record_erased_players(spark, paths["erased_players"], ["p1"], ERASED_AT)
    # The run again: its append is skipped by Delta (the first run's commit), the erasure found.
    again = writer()
    again(records, 0)
    assert landed(spark, paths) == ["c", "d"]
    again(records, 0)
    erasures = spark.read.format("delta").load(paths["erasures"])
    assert erasures.count() == 2
    assert audit_outcomes(spark, paths, records) == {
        "a": "erased", "b": "erased", "c": "landed", "d": "landed"
    }  # fmt: skip
