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
