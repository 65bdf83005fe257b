"""The catalog of event types: the one place that says which fields each type carries.

A new schema version of a type is a new entry under the type, never an edit of an old one:
clients keep sending the old version, the lake keeps both. A property a new version adds
must be optional in the stored envelope's sense: the landing job adds it to the `events`
table as a new nullable field of `properties` (Delta schema evolution), and rows of older
versions read it as null. A property may not change its type between versions.
"""

# The version an event without `schema_version` is taken to be.
CURRENT_SCHEMA_VERSION = 1

_ITEM = {"type": "string", "minLength": 1, "maxLength": 64}
_CURRENCY = {"type": "string", "minLength": 1, "maxLength": 16}
_ID = {"type": "string", "minLength": 1, "maxLength": 128}

_PURCHASE_V1 = {
    "item": _ITEM,
    # Bounded so that price * quantity stays a finite double in every mart.
    "price": {"type": "number", "minimum": 0, "maximum": 1_000_000_000},
    "currency": _CURRENCY,
    "quantity": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
}

# event_type -> schema_version -> JSON Schema of `properties` (fields, required ones).
CATALOG: dict[str, dict[int, dict]] = {
    "default": {1: {"properties": {}, "required": []}},
    "purchase": {
        1: {"properties": _PURCHASE_V1, "required": ["item", "price", "currency", "quantity"]},
        # v2: where the purchase was made (an app store, the web shop), optional.
        2: {
            "properties": {**_PURCHASE_V1, "store": {"type": "string", "maxLength": 32}},
            "required": ["item", "price", "currency", "quantity"],
        },
    },
    "join_guild": {1: {"properties": {"guild_id": _ID}, "required": ["guild_id"]}},
    "session_start": {1: {"properties": {}, "required": []}},
    "session_end": {1: {"properties": {}, "required": []}},
    "level_up": {
        1: {
            "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 100_000}},
            "required": ["level"],
        }
    },
}

EVENT_TYPES = tuple(CATALOG)
