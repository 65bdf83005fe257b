"""Events as tests build them: Kafka records for the landing transforms, landed rows for marts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pyspark.sql import Row

from events.spark_schema import event_schema

RECEIVED = "2026-11-20T10:00:00.000Z"
# The seed's answers, route by route.
SEED_TEXTS = {
    "/": "\nThis is the default response!\n",
    "/purchase_a_sword": "\nSword Purchased!\n",
    "/purchase_a_horse": "\nHorse Purchased!\n",
    "/purchase_a_shield": "\nShield Purchased!\n",
    "/join_a_guild": "\nGuild Joined!\n",
}

# Records that are not events, produced straight into a topic (with kcat): each is quarantined.
MALFORMED_RECORDS = [
    "purchased_sword",  # what the seed logged
    "{not json",
    '{"event_type": "buy_castle", "schema_version": 1, "player_id": "p1", "event_id": "y"}',
    '{"event_type": "purchase", "schema_version": 1, "player_id": "p1", "event_id": "x",'
    ' "received_at": "2026-11-20T10:00:00Z"}',
    "[1, 2, 3]",
]

PURCHASE = {"item": "sword", "price": 100, "currency": "gold", "quantity": 1}


def envelope(event_id="e1", event_type="purchase", **overrides):
    """A stored envelope (as Kafka holds it) of a sword purchase by p1, as JSON text."""
    event = {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "player_id": "p1",
        "received_at": RECEIVED,
        "properties": PURCHASE,
        "context": {"host": "h", "user_agent": "ua", "remote_addr": "1.2.3.4", "api_version": "v1"},
    }
    event.update(overrides)
    return json.dumps(event)


PROPERTIES_TYPE = event_schema()["properties"].dataType
# The landed columns the marts read (runtime.marts.MART_INPUT_COLUMNS), with their types.
EVENTS = (
    "event_id string, event_type string, player_id string, session_id string, "
    f"event_ts timestamp, event_date date, properties {PROPERTIES_TYPE.simpleString()}"
)


def kafka_records(spark, values):
    """Kafka records (of topic `events`, partition 0, offsets from 0) holding `values`."""
    rows = [
        Row(
            key=None,
            value=bytearray(value.encode()) if isinstance(value, str) else bytearray(value),
            topic="events",
            partition=0,
            offset=offset,
            timestamp=datetime(2026, 11, 20, 10, tzinfo=UTC),
        )
        for offset, value in enumerate(values)
    ]
    schema = (
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )
    return spark.createDataFrame(rows, schema)


def event(
    player, ts, event_type="purchase", session=None, item=None, price=None, quantity=1,
    currency="gold",
):  # fmt: skip
    """A landed event (schema `EVENTS`); a purchase when given an item, level 2 on level_up."""
    given = {
        "item": item,
        "price": price,
        "currency": currency if item else None,
        "quantity": quantity if item else None,
        "level": 2 if event_type == "level_up" else None,
    }
    # Every field the catalog defines, in its order; those not given are null.
    properties = Row(**{name: given.get(name) for name in PROPERTIES_TYPE.fieldNames()})
    return Row(
        event_id=f"{player}-{ts.isoformat()}-{event_type}-{item}",
        event_type=event_type,
        player_id=player,
        session_id=session,
        event_ts=ts,
        event_date=ts.date(),
        properties=properties,
    )
