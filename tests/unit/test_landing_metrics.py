"""The landing service's metrics: names in Prometheus' conventions, values from each batch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import requests
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streaming.land_events import consumer_lag, partition_offsets, trigger_seconds
from streaming.metrics import LandingMetrics, reason_class
from tests.helpers.stack import free_port


def samples(metrics: LandingMetrics) -> dict[tuple[str, tuple], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_reasons_are_classed_without_their_particulars():
    assert reason_class("malformed JSON") == "malformed"
    assert reason_class("properties.price: -1 is less than the minimum of 0") == "schema"
    assert reason_class("event_id missing") == "event_id_missing"


def test_a_batch_counts_what_it_read_landed_quarantined_and_dropped():
    metrics = LandingMetrics(trigger_s=10)
    committed = 1_800_000_000.0
    metrics.batch_written(
        read=10,
        landed=6,
        duplicates=1,
        reasons={"malformed JSON": 2, "player_id: None is not of type 'string'": 1},
        received_us=[int((committed - 3) * 1e6)] * 7,
        committed_at=committed,
    )
    metrics.batch_done(4.2, {("events", 0): 5, ("events", 1): 0})
    metrics.lag_ages({("events", 0): 12.5, ("events", 1): 0.0})
    got = samples(metrics)
    assert got[("questlog_landing_records_read_total", ())] == 10
    assert got[("questlog_landing_events_landed_total", ())] == 6
    assert got[("questlog_landing_duplicates_dropped_total", ())] == 1
    assert got[("questlog_landing_records_quarantined_total", (("reason", "malformed"),))] == 2
    assert got[("questlog_landing_records_quarantined_total", (("reason", "schema"),))] == 1
    assert got[("questlog_landing_end_to_end_latency_seconds_count", ())] == 7
    assert got[("questlog_landing_end_to_end_latency_seconds_bucket", (("le", "2.0"),))] == 0
    assert got[("questlog_landing_end_to_end_latency_seconds_bucket", (("le", "5.0"),))] == 7
    assert got[("questlog_landing_batch_duration_seconds_sum", ())] == 4.2
    assert got[("questlog_landing_trigger_interval_seconds", ())] == 10
    lag = (("partition", "0"), ("topic", "events"))
    assert got[("questlog_landing_consumer_lag_records", lag)] == 5
    assert got[("questlog_landing_consumer_lag_seconds", lag)] == 12.5
    assert got[("questlog_landing_last_commit_timestamp_seconds", ())] == committed


def test_the_metrics_are_served_over_http():
    metrics = LandingMetrics()
    bind = f"127.0.0.1:{free_port()}"
    metrics.serve(bind)
    metrics.batch_written(
        read=1, landed=1, duplicates=0, reasons={}, received_us=[0], committed_at=1.0
    )
    text = requests.get(f"http://{bind}/metrics", timeout=10).text
    assert "questlog_landing_events_landed_total 1.0" in text


def progress(latest: dict, end: dict):
    source = SimpleNamespace(latestOffset=json.dumps(latest), endOffset=json.dumps(end))
    return SimpleNamespace(sources=[source])


def test_lag_is_what_kafka_had_past_the_batch_per_partition():
    batch = progress({"events": {"0": 120, "1": 40}}, {"events": {"0": 100, "1": 40}})
    ends, lag = partition_offsets(batch)
    assert ends == {("events", 0): 100, ("events", 1): 40}
    assert lag == {("events", 0): 20, ("events", 1): 0}
    assert consumer_lag(batch) == {"events": 20}


def test_a_replayed_batch_reports_no_lag():
    assert partition_offsets(
        SimpleNamespace(sources=[SimpleNamespace(latestOffset=None, endOffset=None)])
    ) == ({}, {})


def test_trigger_intervals_in_seconds():
    assert trigger_seconds("10 seconds") == 10
    assert trigger_seconds("1 minute") == 60


def test_the_lakes_freshness_is_the_newest_event_landed_so_far():
    metrics = LandingMetrics()
    newest = (("table", "events"),)
    metrics.batch_written(
        read=2,
        landed=2,
        duplicates=0,
        reasons={},
        received_us=[1_000_000_000, 3_000_000_000],
        committed_at=3_010.0,
    )
    assert samples(metrics)[("questlog_table_newest_event_timestamp_seconds", newest)] == 3_000
    # A late event lands after newer ones: the lake still reflects the newest.
    metrics.batch_written(
        read=1, landed=1, duplicates=0, reasons={}, received_us=[2_000_000_000], committed_at=3_020
    )
    got = samples(metrics)
    assert got[("questlog_table_newest_event_timestamp_seconds", newest)] == 3_000
    assert got[("questlog_table_last_refresh_timestamp_seconds", newest)] == 3_020


def test_a_restart_shows_as_a_new_process_start_time():
    assert samples(LandingMetrics())[("process_start_time_seconds", ())] > 0
