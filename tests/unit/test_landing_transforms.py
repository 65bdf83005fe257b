import json
from datetime import date, datetime

from streaming.transforms import (
    batch_summary,
    first_copies,
    parse_records,
    quarantined_records,
    suspect_event_ids,
    valid_events,
)
from tests.helpers.events import PURCHASE, envelope, kafka_records


def reasons(spark, values):
    parsed = parse_records(kafka_records(spark, values))
    return [row.reason for row in parsed.orderBy("kafka_offset").collect()]


def test_valid_events_have_no_reason(spark):
    assert reasons(spark, [envelope(), envelope("e2", "default", properties={})]) == [None, None]


def test_each_bad_record_gets_its_reason(spark):
    values = [
        "{not json",
        "[1, 2]",
        envelope(event_type="buy_castle"),
        envelope(schema_version=7),
        envelope(event_id=None),
        envelope(player_id=None),
        envelope(received_at="yesterday"),
        envelope(properties={"item": "sword", "currency": "gold", "quantity": 1}),
        envelope(properties={"item": "sword", "price": -5, "currency": "gold", "quantity": 1}),
        envelope(event_type="level_up", properties={"level": "high"}),
        json.dumps({"event_id": "e9", "schema_version": 1, "player_id": "p1"}),
        envelope(properties={**PURCHASE, "quantity": 2.0}),
    ]
    assert reasons(spark, values) == [
        "malformed JSON",
        "not a JSON object",
        "event_type: unknown event type 'buy_castle'",
        "schema_version: 7 is not one of [1, 2]",
        "event_id missing",
        "(event): 'player_id' is a required property",
        "received_at missing or not a timestamp",
        "properties: 'price' is a required property",
        "properties.price: -5 is less than the minimum of 0",
        "properties.level: 'high' is not of type 'integer'",
        "event_type: missing",
        "properties.quantity: written as a decimal, not an integer",
    ]


def test_quarantine_keeps_the_raw_value_and_its_kafka_position(spark):
    parsed = parse_records(kafka_records(spark, [envelope(), "{oops"]))
    (row,) = quarantined_records(parsed).collect()
    assert row.raw_value == "{oops"
    assert (row.kafka_topic, row.kafka_partition, row.kafka_offset) == ("events", 0, 1)
    assert row.reason == "malformed JSON"
    assert row.landed_at is not None


def test_event_date_follows_a_plausible_client_ts(spark):
    parsed = parse_records(kafka_records(spark, [envelope(client_ts="2026-11-19T23:30:00-02:00")]))
    (row,) = valid_events(parsed).collect()
    assert row.event_date == date(2026, 11, 20)  # 01:30 UTC
    assert row.event_ts == datetime(2026, 11, 20, 1, 30)


def test_an_implausible_client_ts_falls_back_to_received_at(spark):
    values = [
        envelope("old", client_ts="2026-10-01T00:00:00Z"),
        envelope("future", client_ts="2027-01-01T00:00:00Z"),
        envelope("none"),
    ]
    rows = valid_events(parse_records(kafka_records(spark, values))).collect()
    assert {row.event_id: row.event_date for row in rows} == {
        "old": date(2026, 11, 20),
        "future": date(2026, 11, 20),
        "none": date(2026, 11, 20),
    }


def test_valid_rows_keep_kafka_lineage_and_properties(spark):
    (row,) = valid_events(parse_records(kafka_records(spark, [envelope()]))).collect()
    assert (row.kafka_partition, row.kafka_offset) == (0, 0)
    assert row.properties.item == "sword"
    assert row.properties.price == 100.0
    assert row.context.api_version == "v1"


def landable(spark, values, landed=()):
    events = valid_events(parse_records(kafka_records(spark, values)))
    landed_ids = spark.createDataFrame([(i,) for i in landed], "event_id string")
    return events, first_copies(events, suspect_event_ids(events, landed_ids))


def test_the_same_event_id_three_times_is_kept_once_as_its_first_copy(spark):
    values = [envelope("other"), envelope("dup"), envelope("dup"), envelope("dup")]
    events, kept = landable(spark, values)
    assert sorted((r.event_id, r.kafka_offset) for r in kept.collect()) == [
        ("dup", 1),
        ("other", 0),
    ]
    assert kept.columns == events.columns


def test_an_event_landed_before_is_not_landed_again_even_if_repeated(spark):
    values = [envelope("old"), envelope("new"), envelope("old")]
    _, kept = landable(spark, values, landed=["old", "elsewhere"])
    assert [r.event_id for r in kept.collect()] == ["new"]


def test_only_repeated_or_landed_ids_are_suspects(spark):
    values = [envelope("a"), envelope("b"), envelope("b"), envelope("c")]
    events = valid_events(parse_records(kafka_records(spark, values)))
    landed_ids = spark.createDataFrame([("c",), ("z",)], "event_id string")
    suspects = {r.event_id: r.landed for r in suspect_event_ids(events, landed_ids).collect()}
    assert suspects == {"b": False, "c": True}


def test_a_batch_summary_counts_records_and_the_quarantined(spark):
    values = [
        envelope("a", client_ts="2026-11-18T23:59:59Z", received_at="2026-11-19T00:00:01Z"),
        envelope("b", client_ts="2026-11-19T10:00:00Z", received_at="2026-11-19T10:00:01Z"),
        # Invalid: a purchase without its price.
        envelope("c", client_ts="2026-11-01T00:00:00Z", properties={"item": "sword"}),
        "{oops",
    ]
    summary = batch_summary(parse_records(kafka_records(spark, values)))
    assert (summary.records, summary.quarantined) == (4, 2)
    only_bad = batch_summary(parse_records(kafka_records(spark, ["{oops"])))
    assert (only_bad.records, only_bad.quarantined) == (1, 1)
