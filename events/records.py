"""Why a record on the topic cannot land: the edge's own rules, read back from Kafka.

The landing job asks `record_problem` of every record, so what the ingest service accepts
lands and what it would refuse is quarantined, whoever wrote the record. Formats are left
to the edge: an event_id that is no UUID is still an id to dedupe on, and a client_ts that
does not parse falls back to received_at.
"""

from __future__ import annotations

import orjson

from events.catalog import CATALOG
from events.envelope import SERVER_FIELDS, validate

MALFORMED = "malformed JSON"


# Per event type and schema version: its integer properties (read 2.0 as null by Spark).
_INTEGER_PROPERTIES = {
    (event_type, version): tuple(
        name for name, field in spec["properties"].items() if field["type"] == "integer"
    )
    for event_type, versions in CATALOG.items()
    for version, spec in versions.items()
}


def _float_in_integer_field(event: dict) -> str | None:
    """The first integer field written as 2.0: the edge stores 2, Spark reads 2.0 as null."""
    if type(event.get("schema_version")) is float:
        return "schema_version"
    integers = _INTEGER_PROPERTIES[event["event_type"], event["schema_version"]]
    if integers:
        properties = event.get("properties") or {}
        for name in integers:
            if type(properties.get(name)) is float:
                return f"properties.{name}"
    return None


def record_problem(value: bytes | None) -> str | None:
    """The reason a Kafka record's value cannot land, or None when it is a valid event."""
    try:
        event = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        return MALFORMED
    if event is None:
        return MALFORMED
    if not isinstance(event, dict):
        return "not a JSON object"
    if not isinstance(event.get("event_id"), str):
        return "event_id missing"
    if event.get("schema_version") is None:
        return "schema_version missing"
    # The edge writes an absent session_id or client_ts as null: null is an absent field.
    client = {
        name: value
        for name, value in event.items()
        if name not in SERVER_FIELDS and value is not None
    }
    problems = validate(client, formats=False)
    if problems:
        return f"{problems[0].field}: {problems[0].reason}"
    integral = _float_in_integer_field(client)
    if integral:
        return f"{integral}: written as a decimal, not an integer"
    return None
