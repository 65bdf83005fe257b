"""Reading the committed Kafka offsets from a streaming checkpoint's logs."""

from __future__ import annotations

import pytest

from lake.offsets import committed_offsets_with, parse_offsets

ENTRY = (
    "v1\n"
    '{"batchWatermarkMs":0,"batchTimestampMs":1764000000000,"conf":{}}\n'
    '{"events":{"1":40,"0":12,"2":7}}\n'
)


def test_offsets_are_the_last_json_line_of_an_entry():
    assert parse_offsets(ENTRY) == {"events": {"0": 12, "1": 40, "2": 7}}


def test_an_entry_without_offsets_is_an_error():
    with pytest.raises(ValueError, match="no offsets"):
        parse_offsets('v1\n{"batchWatermarkMs":0}\n')


def test_the_newest_committed_batch_counts_not_a_planned_one():
    files = {
        "cp/offsets/1": ENTRY,
        "cp/offsets/2": ENTRY.replace("40", "99"),
        "cp/offsets/3": ENTRY.replace("40", "500"),
    }
    folders = {"cp/commits": ["1", "2", ".2.crc"]}
    offsets = committed_offsets_with(lambda p: folders.get(p, []), files.__getitem__, "cp")
    assert offsets == {"events": {"0": 12, "1": 99, "2": 7}}


def test_a_checkpoint_without_commits_has_no_offsets():
    assert committed_offsets_with(lambda p: [], lambda p: "", "cp") is None
