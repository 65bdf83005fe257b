"""Freshness from a Delta table's statistics, and the pushes of batch jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from deltalake import write_deltalake
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lake.freshness import TableFreshness, newest_received_s, push


def received(*moments: datetime) -> pa.Table:
    return pa.table(
        {
            "event_id": [f"e{i}" for i in range(len(moments))],
            "received_at": pa.array(moments, pa.timestamp("us", tz="UTC")),
        }
    )


def test_the_newest_event_of_each_version_comes_from_the_files_statistics(tmp_path):
    uri = str(tmp_path / "events")
    first = datetime(2026, 11, 30, 8, tzinfo=UTC)
    write_deltalake(uri, received(first, datetime(2026, 11, 29, tzinfo=UTC)))
    later = datetime(2026, 12, 1, 9, 30, 15, 250000, tzinfo=UTC)
    write_deltalake(uri, received(later), mode="append")
    assert newest_received_s(uri, 0) == first.timestamp()
    assert newest_received_s(uri) == later.timestamp()


def test_marts_written_record_the_newest_event_of_the_version_they_reflect(tmp_path):
    uri = str(tmp_path / "events")
    moment = datetime(2026, 12, 1, 12, tzinfo=UTC)
    write_deltalake(uri, received(moment))
    registry = CollectorRegistry()
    TableFreshness(registry).marts_written(uri, ["daily_kpis", "player_purchases"], 0)
    got = {
        (sample.name, sample.labels.get("table")): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    for mart in ("daily_kpis", "player_purchases"):
        assert got[("questlog_table_newest_event_timestamp_seconds", mart)] == moment.timestamp()
        assert got[("questlog_table_events_version", mart)] == 0
        assert got[("questlog_table_last_refresh_timestamp_seconds", mart)] > moment.timestamp()


def test_a_gateway_that_does_not_answer_costs_a_warning_not_the_job(capsys):
    registry = CollectorRegistry()
    assert not push(registry, "http://127.0.0.1:9", "questlog_audit", "hdfs://x/lake")
    assert "metrics not pushed" in capsys.readouterr().out
    assert not push(registry, "", "questlog_audit", "hdfs://x/lake")
