"""The lag exporter's arithmetic: what the landing will read next, and what waits past it."""

from __future__ import annotations

from streaming.lag_exporter import lag_per_partition


def test_lag_is_what_kafka_holds_past_the_last_commit():
    committed = {"events": {"0": 10, "1": 7}}
    next_offsets, lag = lag_per_partition(committed, "events", {0: 0, 1: 0}, {0: 15, 1: 7})
    assert next_offsets == {0: 10, 1: 7}
    assert lag == {0: 5, 1: 0}


def test_before_the_first_commit_every_record_waits():
    next_offsets, lag = lag_per_partition(None, "events", {0: 3, 1: 0}, {0: 9, 1: 4})
    assert next_offsets == {0: 3, 1: 0}
    assert lag == {0: 6, 1: 4}


def test_a_partition_the_commit_does_not_name_starts_at_its_beginning():
    committed = {"events": {"0": 5}}
    _, lag = lag_per_partition(committed, "events", {0: 0, 1: 2, 2: 0}, {0: 5, 1: 8, 2: 0})
    assert lag == {0: 0, 1: 6, 2: 0}


def test_records_removed_by_retention_do_not_count_as_waiting():
    committed = {"events": {"0": 10}}
    next_offsets, lag = lag_per_partition(committed, "events", {0: 50}, {0: 60})
    assert next_offsets == {0: 50}
    assert lag == {0: 10}


def test_another_topic_in_the_checkpoint_is_not_this_ones():
    committed = {"other": {"0": 100}}
    _, lag = lag_per_partition(committed, "events", {0: 0}, {0: 4})
    assert lag == {0: 4}


class FakeConsumer:
    """Kafka holding 4 records in partition 0, none of them landed."""

    def partitions_for_topic(self, topic):
        return {0}

    def end_offsets(self, partitions):
        return {p: 4 for p in partitions}

    def beginning_offsets(self, partitions):
        return {p: 0 for p in partitions}


class NoCheckpoint:
    def status(self, path, strict=False):
        return None


def values(collector) -> dict[str, float]:
    return {s.name: s.value for family in collector.collect() for s in family.samples}


def test_an_exporter_started_before_kafka_reports_the_lag_once_kafka_answers(monkeypatch):
    from kafka.errors import KafkaTimeoutError

    from lake.settings import LakeSettings
    from streaming import lag_exporter

    monkeypatch.setattr(
        lag_exporter, "oldest_unread_age_s", lambda c, n, lag, now: {k: 9.0 for k in n}
    )
    answers = iter([KafkaTimeoutError("no broker yet"), FakeConsumer()])

    def consumer():
        made = next(answers)
        if isinstance(made, Exception):
            raise made
        return made

    collector = lag_exporter.LagCollector(LakeSettings(), consumer, NoCheckpoint())
    assert values(collector) == {"questlog_lag_exporter_up": 0}
    got = values(collector)
    assert got["questlog_lag_exporter_up"] == 1
    assert got["questlog_landing_consumer_lag_records"] == 4
    assert got["questlog_landing_consumer_lag_seconds"] == 9.0
