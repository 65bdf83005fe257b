from datetime import datetime

from pyspark.sql import Row

from streaming.completeness import (
    account_for_offsets,
    missing_ranges,
    per_partition,
    repeated_event_ids,
)

T = datetime(2026, 11, 20, 10, 15)


def records(spark, event_ids):
    rows = [
        Row(partition=p, offset=o, timestamp=T, value=bytearray(f'{{"event_id":"{e}"}}'.encode()))
        for (p, o), e in event_ids.items()
    ]
    return spark.createDataFrame(
        rows, "partition int, offset long, timestamp timestamp, value binary"
    )


def lake_rows(spark, rows):
    return spark.createDataFrame(
        [Row(kafka_partition=p, kafka_offset=o, event_id=e) for p, o, e in rows],
        "kafka_partition int, kafka_offset long, event_id string",
    )


def test_every_offset_gets_its_outcome_and_gaps_are_named(spark):
    consumed = records(
        spark,
        {(0, 0): "a", (0, 1): "b", (0, 2): "a", (0, 3): "c", (0, 4): "d", (1, 0): "e"},
    )
    landed = lake_rows(spark, [(0, 0, "a"), (1, 0, "e")])
    quarantined = lake_rows(spark, [(0, 1, None)])
    outcomes = account_for_offsets(consumed, landed, quarantined)
    by_offset = {(r.kafka_partition, r.kafka_offset): r.outcome for r in outcomes.collect()}
    assert by_offset == {
        (0, 0): "landed",
        (0, 1): "quarantined",
        (0, 2): "duplicate",
        (0, 3): "missing",
        (0, 4): "missing",
        (1, 0): "landed",
    }
    assert missing_ranges(outcomes) == [(0, 3, 4)]
    counts = {r.kafka_partition: r for r in per_partition(outcomes).collect()}
    assert (counts[0].consumed, counts[0].missing, counts[0].duplicate) == (5, 2, 1)
    assert (counts[1].consumed, counts[1].landed) == (1, 1)


def test_event_ids_with_more_than_one_row_are_named_with_their_count(spark):
    landed = lake_rows(spark, [(0, 0, "a"), (0, 1, "b"), (1, 7, "a"), (2, 3, "a"), (0, 2, "c")])
    assert [tuple(r) for r in repeated_event_ids(landed).collect()] == [("a", 3)]
    assert repeated_event_ids(lake_rows(spark, [(0, 0, "a"), (0, 1, "b")])).count() == 0
