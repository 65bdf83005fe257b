"""The edge and the landing job apply one rule set: what the edge accepts lands, what it
refuses the landing job would quarantine. One corpus goes through both."""

from __future__ import annotations

import json
import math

import pytest

from events.envelope import EncodeError, enrich, new_event_id, normalize, to_kafka, validate
from streaming.transforms import parse_records
from tests.helpers.events import RECEIVED, kafka_records

CONTEXT = {"host": "h", "user_agent": "ua", "remote_addr": "1.2.3.4", "api_version": "v1"}
PURCHASE = {"item": "sword", "price": 100, "currency": "gold", "quantity": 1}


def purchase(**properties):
    return {"event_type": "purchase", "player_id": "p1", "properties": {**PURCHASE, **properties}}


def level_up(level):
    return {"event_type": "level_up", "player_id": "p1", "properties": {"level": level}}


def guild(guild_id):
    return {"event_type": "join_guild", "player_id": "p1", "properties": {"guild_id": guild_id}}


def default(**fields):
    return {"event_type": "default", "player_id": "p1", **fields}


CORPUS = {
    # accepted at both ends
    "purchase": purchase(),
    "free item": purchase(price=0),
    "price at its maximum": purchase(price=1_000_000_000),
    "fractional price": purchase(price=0.5),
    "quantity at its maximum": purchase(quantity=1_000_000),
    "non-ASCII item": purchase(item="épée à deux mains 🗡"),
    "longest item": purchase(item="x" * 64),
    "level at its maximum": level_up(100_000),
    "longest guild": guild("g" * 128),
    "default": default(),
    "default with empty properties": default(properties={}),
    "longest player": default(player_id="p" * 128),
    "session": default(session_id="s1"),
    "quantity 2.0, stored as 2": purchase(quantity=2.0),
    "level 3.0, stored as 3": level_up(3.0),
    "schema_version 1.0, stored as 1": default(schema_version=1.0),
    # refused at both ends
    "negative price": purchase(price=-1),
    "price over its maximum": purchase(price=1_000_000_001),
    "price overflowing with quantity": purchase(price=1e308, quantity=10),
    "NaN price": purchase(price=math.nan),
    "infinite price": purchase(price=math.inf),
    "price as text": purchase(price="100"),
    "price as NaN text": purchase(price="NaN"),
    "null price": purchase(price=None),
    "price as boolean": purchase(price=True),
    "quantity 2.5": purchase(quantity=2.5),
    "quantity 0": purchase(quantity=0),
    "quantity over its maximum": purchase(quantity=1_000_001),
    "quantity as text": purchase(quantity="1"),
    "quantity past 64 bits": purchase(quantity=2**64),
    "level 0": level_up(0),
    "level 3.5": level_up(3.5),
    "empty item": purchase(item=""),
    "item too long": purchase(item="x" * 65),
    "item as number": purchase(item=5),
    "item as object": purchase(item={"name": "sword"}),
    "currency too long": purchase(currency="c" * 17),
    "empty guild": guild(""),
    "guild too long": guild("g" * 129),
    "property the catalog does not name": purchase(colour="red"),
    "missing price": {
        **purchase(),
        "properties": {"item": "sword", "currency": "g", "quantity": 1},
    },
    "purchase without properties": {"event_type": "purchase", "player_id": "p1"},
    "properties as array": default(properties=[]),
    "properties on a type that has none": default(properties={"x": 1}),
    "empty player": default(player_id=""),
    "player too long": default(player_id="p" * 129),
    "player as number": default(player_id=5),
    "empty session": default(session_id=""),
    "session too long": default(session_id="s" * 129),
    "schema_version 1.5": default(schema_version=1.5),
    "unknown schema_version": default(schema_version=2),
    "unknown event type": default(event_type="buy_castle"),
    "field beyond the envelope": default(mood="happy"),
}


def edge_accepts(event: dict) -> bool:
    if validate(normalize(event)):
        return False
    try:
        to_kafka(enrich(event, CONTEXT, RECEIVED))
    except EncodeError:
        return False
    return True


def kafka_value(event: dict, accepted: bool) -> str:
    """What the topic would hold: the edge's own encoding when it accepts, else plain JSON
    as another producer could write it (NaN and Infinity tokens included)."""
    if accepted:
        return to_kafka(enrich(normalize(event), CONTEXT, RECEIVED))[1].decode()
    stored = {"event_id": new_event_id(), "schema_version": 1, **event}
    return json.dumps({**stored, "received_at": RECEIVED, "context": CONTEXT})


@pytest.fixture(scope="module")
def verdicts(spark):
    names = list(CORPUS)
    edge = [edge_accepts(CORPUS[name]) for name in names]
    values = [
        kafka_value(CORPUS[name], accepted) for name, accepted in zip(names, edge, strict=True)
    ]
    parsed = parse_records(kafka_records(spark, values)).orderBy("kafka_offset").collect()
    landing = [row.reason for row in parsed]
    return {name: (e, r) for name, e, r in zip(names, edge, landing, strict=True)}


def test_the_corpus_holds_both_verdicts(verdicts):
    accepted = [name for name, (edge, _) in verdicts.items() if edge]
    assert 10 < len(accepted) < len(verdicts) - 10


def test_what_the_edge_accepts_is_landed_and_what_it_refuses_is_quarantined(verdicts):
    disagreements = {
        name: reason for name, (edge, reason) in verdicts.items() if edge != (reason is None)
    }
    assert disagreements == {}
