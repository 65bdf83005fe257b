"""The event envelope: JSON Schemas built from the catalog, validation and server enrichment."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import jsonschema_rs
import orjson
import uuid_utils

from events.catalog import CATALOG, CURRENT_SCHEMA_VERSION

MAX_STRING = 128
# A problem's text quotes the offending value; a long value is cut.
MAX_REASON = 300
_DATE_TIME = {"type": "string", "format": "date-time", "maxLength": 40}
_SHORT_STRING = {"type": "string", "maxLength": 256}

# Fields a client may send; the server adds `received_at` and `context`.
CLIENT_FIELDS = {
    "event_id": {"type": "string", "format": "uuid", "maxLength": 36},
    "event_type": {"type": "string", "enum": list(CATALOG)},
    "schema_version": {"type": "integer", "minimum": 1},
    "player_id": {"type": "string", "minLength": 1, "maxLength": MAX_STRING},
    "session_id": {"type": "string", "minLength": 1, "maxLength": MAX_STRING},
    "client_ts": _DATE_TIME,
    "properties": {"type": "object"},
}
SERVER_FIELDS = {
    "received_at": _DATE_TIME,
    "context": {
        "type": "object",
        "properties": {
            "host": _SHORT_STRING,
            "user_agent": _SHORT_STRING,
            "remote_addr": _SHORT_STRING,
            "api_version": _SHORT_STRING,
        },
        "additionalProperties": False,
    },
}
REQUIRED_CLIENT_FIELDS = ["event_type", "player_id"]


@cache
def client_schema(event_type: str, schema_version: int) -> dict:
    """JSON Schema of one event as a client sends it, for a type and version in the catalog."""
    properties = CATALOG[event_type][schema_version]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{event_type} v{schema_version}",
        "type": "object",
        "properties": {
            **CLIENT_FIELDS,
            "properties": {
                "type": "object",
                "properties": properties["properties"],
                "required": properties["required"],
                "additionalProperties": False,
            },
        },
        # A type with required properties needs the `properties` object itself.
        "required": REQUIRED_CLIENT_FIELDS + (["properties"] if properties["required"] else []),
        "additionalProperties": False,
    }


def stored_fields() -> dict:
    """Every envelope field as it is logged to Kafka, `properties` the union over the catalog."""
    union: dict[str, dict] = {}
    for versions in CATALOG.values():
        for spec in versions.values():
            for name, field in spec["properties"].items():
                if name in union and union[name]["type"] != field["type"]:
                    raise ValueError(f"property {name!r} has two types in the catalog")
                union[name] = field
    fields = {**CLIENT_FIELDS, **SERVER_FIELDS}
    fields["properties"] = {"type": "object", "properties": union}
    return fields


@dataclass(frozen=True)
class Problem:
    """One reason an event was refused."""

    index: int
    field: str
    reason: str

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "reason": self.reason}


def _is_integer(checker, instance) -> bool:
    # JSON Schema counts 2.0 as an integer; Spark reads it into a LongType column as null.
    # `normalize` turns an integral 2.0 into 2 before validation; what is left is refused.
    return type(instance) is int


def _is_number(checker, instance) -> bool:
    # NaN and infinities are not JSON, and Spark would land them as values no mart can sum.
    return type(instance) is int or (type(instance) is float and math.isfinite(instance))


@cache
def _validator(event_type: str, schema_version: int, formats: bool):
    """The Python validator, for the wording of problems jsonschema-rs found.

    The catalog's types as the lake stores them (LongType, DoubleType): one reading at both
    ends. Imported on first use: only a refused event needs it, and it takes seconds to load.
    """
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.validators import extend

    strict = extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
            {"integer": _is_integer, "number": _is_number}
        ),
    )
    return strict(
        client_schema(event_type, schema_version),
        format_checker=FormatChecker() if formats else None,
    )


@cache
def _fast_validator(event_type: str, schema_version: int, formats: bool):
    """The same schema compiled by jsonschema-rs: a valid event is checked in microseconds.

    It reads an integral 2.0 as an integer; `enrich` stores it as 2. Whatever it refuses
    goes to the Python validator for the problems' wording.
    """
    return jsonschema_rs.validator_for(
        client_schema(event_type, schema_version), validate_formats=formats
    )


def _cut(text: str) -> str:
    """The text, its middle cut out when long (the end says what is wrong with the value)."""
    if len(text) <= MAX_REASON:
        return text
    half = (MAX_REASON - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def _field_name(path) -> str:
    return ".".join(str(part) for part in path) or "(event)"


def _integral(value):
    """2.0 as 2: JSON Schema counts it an integer, the lake stores integers as LongType."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def normalize(event: object) -> object:
    """The event with integral floats in its integer fields written as integers.

    A client may write a quantity as 2.0 (JavaScript numbers have no integer type); it is
    stored as 2, so that the landing job reads the same number. Anything else is unchanged.
    """
    if not isinstance(event, dict):
        return event
    event = {**event}
    if "schema_version" in event:
        event["schema_version"] = _integral(event["schema_version"])
    event_type = event.get("event_type")
    version = event.get("schema_version", CURRENT_SCHEMA_VERSION)
    known = isinstance(event_type, str) and type(version) is int
    spec = CATALOG.get(event_type, {}).get(version) if known else None
    properties = event.get("properties")
    if spec and isinstance(properties, dict):
        event["properties"] = {
            name: _integral(value)
            if spec["properties"].get(name, {}).get("type") == "integer"
            else value
            for name, value in properties.items()
        }
    return event


def validate(event: object, index: int = 0, formats: bool = True) -> list[Problem]:
    """Problems that make `event` unacceptable, or an empty list.

    `formats=False` leaves string formats (uuid, date-time) unchecked.
    """
    if not isinstance(event, dict):
        return [Problem(index, "(event)", "an event must be a JSON object")]
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or event_type not in CATALOG:
        reason = "missing" if event_type is None else _cut(f"unknown event type {event_type!r}")
        return [Problem(index, "event_type", reason)]
    version = event.get("schema_version", CURRENT_SCHEMA_VERSION)
    if type(version) is not int or version not in CATALOG[event_type]:
        known = sorted(CATALOG[event_type])
        return [Problem(index, "schema_version", _cut(f"{version!r} is not one of {known}"))]
    try:
        if _fast_validator(event_type, version, formats).is_valid(event):
            return []
    except Exception:  # a value JSON cannot hold (NaN): the Python validator says which
        pass
    errors = list(_validator(event_type, version, formats).iter_errors(event))
    if not errors:
        return [Problem(index, "(event)", "the event does not match its JSON Schema")]
    return [
        Problem(index, _cut(_field_name(error.absolute_path)), _cut(error.message))
        for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))
    ]


def utc_now_iso() -> str:
    """The current UTC time in RFC 3339 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_event_id() -> str:
    """A time-ordered UUID (version 7) for events that came without one."""
    return str(uuid_utils.uuid7())


def enrich(event: dict, context: dict, received_at: str | None = None) -> dict:
    """The stored envelope: the client's event (`normalize`d) plus server fields, `context`
    kept apart."""
    event = normalize(event)
    return {
        "event_id": event.get("event_id") or new_event_id(),
        "event_type": event["event_type"],
        "schema_version": event.get("schema_version", CURRENT_SCHEMA_VERSION),
        "player_id": event["player_id"],
        "session_id": event.get("session_id"),
        "client_ts": event.get("client_ts"),
        "received_at": received_at or utc_now_iso(),
        "properties": dict(event.get("properties") or {}),
        "context": dict(context),
    }


class EncodeError(ValueError):
    """An event holds text that UTF-8 cannot carry (a lone surrogate)."""


def to_kafka(event: dict) -> tuple[bytes, bytes]:
    """The Kafka key (the player) and value (compact UTF-8 JSON) of a stored event."""
    try:
        return event["player_id"].encode(), orjson.dumps(event)
    except (UnicodeEncodeError, TypeError) as error:
        raise EncodeError(f"the event cannot be encoded as UTF-8 JSON: {error}") from error
