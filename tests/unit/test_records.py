"""`record_problem`: the edge's rules applied to a record read back from Kafka."""

from __future__ import annotations

import json

import pytest

from events.records import MALFORMED, record_problem
from tests.helpers.events import PURCHASE, envelope


def test_a_valid_event_has_no_problem():
    assert record_problem(envelope().encode()) is None


def test_formats_are_left_to_the_edge():
    # Not a UUID, not a date-time: still an id to dedupe on, and received_at dates it.
    assert record_problem(envelope("not-a-uuid", client_ts="last tuesday").encode()) is None


def test_null_session_and_client_ts_are_absent_fields():
    assert record_problem(envelope(session_id=None, client_ts=None).encode()) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"\xff\xfe not utf-8",
        b'{"event_id": "\\ud800"}',
        b'{"event_id": "e1", "price": NaN}',
        b'{"event_id": "e1"} trailing',
        b"[" * 2000 + b"]" * 2000,
        envelope().replace('"price": 100', '"price": 1e400').encode(),
    ],
)
def test_what_is_not_json_is_malformed(value):
    assert record_problem(value) == MALFORMED


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("7", "not a JSON object"),
        (envelope(colour="red"), "'colour' was unexpected"),
        (envelope(properties={**PURCHASE, "colour": "red"}), "'colour' was unexpected"),
        (envelope(properties={**PURCHASE, "price": 1e308}), "properties.price"),
        (envelope(properties={**PURCHASE, "price": "100"}), "properties.price"),
        (envelope(properties={**PURCHASE, "quantity": 2.0}), "written as a decimal"),
        (envelope(player_id="p" * 129), "player_id"),
        (json.dumps({"event_type": "purchase"}), "event_id missing"),
        (envelope(schema_version=None), "schema_version"),
    ],
)
def test_each_class_of_bad_event_names_its_field(value, words):
    problem = record_problem(value.encode())
    assert problem is not None and words in problem
