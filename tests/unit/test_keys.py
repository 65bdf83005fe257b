"""The key index on a local lake: built from an existing `events` table, exact on the filter's
hits, and its filter built again, larger, once past its capacity."""

from __future__ import annotations

import uuid

import pytest

from streaming import keys
from streaming.keys import KeyIndex, ensure_key_index, keys_of

# Delta tables written by Spark: the stack's Delta jars.
pytestmark = pytest.mark.tools


def hashes_of(frame) -> list[int]:
    """The `key_hash` column of a frame, on the driver."""
    return frame.select("key_hash").toArrow().column(0).to_pylist()


def ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def frame(spark, event_ids: list[str]):
    return spark.createDataFrame([(i,) for i in event_ids], "event_id string")


@pytest.fixture
def index(spark, tmp_path):
    """A key index built from an `events` table of 500 ids (as for a lake landed before the
    index existed); the index and those ids."""
    held = ids(500)
    events = f"file:{tmp_path}/events"
    frame(spark, held).write.format("delta").save(events)
    ensure_key_index(spark, f"file:{tmp_path}/keys", events)
    return KeyIndex(spark, f"file:{tmp_path}/keys"), held


def test_an_index_made_for_an_existing_table_holds_its_ids(index):
    key_index, held = index
    assert sorted(r.event_id for r in key_index.table().collect()) == sorted(held)
    # Each key's bucket is its hash's, as the lookup computes it.
    for row in key_index.table().collect():
        assert row.bucket == row.key_hash % keys.KEY_BUCKETS


def test_landed_finds_exactly_the_held_ids_of_a_batch(spark, index):
    key_index, held = index
    batch = held[:7] + ids(300)
    found = key_index.landed(hashes_of(keys_of(frame(spark, batch))))
    assert sorted(r.event_id for r in found.collect()) == sorted(held[:7])


def test_new_ids_are_found_once_appended_and_remembered(spark, index):
    key_index, _ = index
    new = ids(50)
    hashes = hashes_of(keys_of(frame(spark, new)))
    assert key_index.landed(hashes) is None
    key_index.append(keys_of(frame(spark, new)), "app", 0)
    key_index.remember(hashes, len(new))
    assert sorted(r.event_id for r in key_index.landed(hashes).collect()) == sorted(new)
    # The same batch again (after a crash): Delta skips it, nothing is held twice.
    key_index.append(keys_of(frame(spark, new)), "app", 0)
    assert key_index.table().count() == 500 + 50


def test_the_filter_is_built_again_larger_past_its_capacity(spark, index, monkeypatch):
    monkeypatch.setattr(keys, "MIN_CAPACITY", 10)
    key_index, _ = index
    key_index.load()
    assert key_index.capacity == 1000
    new = ids(600)
    key_index.append(keys_of(frame(spark, new)), "app", 0)
    key_index.remember(hashes_of(keys_of(frame(spark, new))), len(new))
    assert (key_index.count, key_index.capacity) == (1100, 2200)
    assert all(h in key_index.bloom for h in hashes_of(key_index.table()))
