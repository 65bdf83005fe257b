"""Builds the OpenAPI 3.1 document from the event catalog; `python -m ingest.openapi` writes it."""

from __future__ import annotations

import copy
import json

from events.catalog import CATALOG, CURRENT_SCHEMA_VERSION
from events.envelope import client_schema
from events.shop import SEED_ITEMS
from ingest.ops import OPENAPI_PATH

TEXT = {"text/html": {"schema": {"type": "string"}}}


def _nullable(kind: str, description: str) -> dict:
    """A field of an answer that may be null."""
    return {"type": [kind, "null"], "description": description}


def _json(schema_ref: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": _json("Error")}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}


def _event_schemas() -> dict:
    schemas = {}
    for event_type, versions in CATALOG.items():
        for version in versions:
            schema = copy.deepcopy(client_schema(event_type, version))
            schema.pop("$schema")
            schema["properties"]["event_type"] = {"const": event_type}
            schema["properties"]["schema_version"] = {"type": "integer", "const": version}
            # An event without schema_version is taken as the current version, so any other
            # version must be named.
            if version != CURRENT_SCHEMA_VERSION:
                schema["required"] = [*schema["required"], "schema_version"]
            schemas[f"{event_type}_v{version}"] = schema
    return schemas


def _seed_route(summary: str, extra_params: list | None = None) -> dict:
    parameters = [
        {"name": "player_id", "in": "query", "schema": {"type": "string", "maxLength": 128}},
        {"name": "X-Player-Id", "in": "header", "schema": {"type": "string", "maxLength": 128}},
    ] + (extra_params or [])
    return {
        "get": {
            "summary": summary,
            "tags": ["seed"],
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "the seed's text, once Kafka has the event",
                    "content": TEXT,
                },
                "400": _error("a parameter is too long"),
                "414": {
                    "description": "request line over the server's limit (gunicorn, 4094 bytes)"
                },
                "401": _error(
                    "an API key or player token is required (seed_routes=key), or "
                    "the player token is not valid"
                ),
                "403": _error(
                    "the API key may not send events, or the player token names another player"
                ),
                "404": _error("the seed routes are turned off"),
                "429": _error("rate limit exceeded", RETRY_AFTER),
                "503": _error("Kafka did not acknowledge in time", RETRY_AFTER),
            },
        }
    }


def build() -> dict:
    """The whole document."""
    event_schemas = _event_schemas()
    event_ref = {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in event_schemas]}
    guild = [
        {
            "name": "guild_id",
            "in": "query",
            "schema": {"type": "string", "minLength": 1, "maxLength": 128},
        }
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "questlog ingest",
            "version": "1",
            "description": (
                "Takes game events and logs them to Kafka. A 2xx means Kafka acknowledged "
                "every event of the request (acks=all). A batch with any invalid event is "
                "rejected whole and nothing of it is published. On 503 retry with the same "
                "event_ids (the 503 names them): the lake keeps each event_id once. API keys "
                "have scopes: `events:write` (POST /v1/events, seed routes when keyed) and "
                "`players:read` (GET /v1/players)."
            ),
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key, or a player token (a JWT naming its player in "
                    "`sub`) where events are sent",
                }
            },
            "schemas": {
                **event_schemas,
                "Event": event_ref,
                "Accepted": {
                    "type": "object",
                    "required": ["accepted", "event_ids"],
                    "properties": {
                        "accepted": {"type": "integer"},
                        "event_ids": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "event_ids": {"type": "array", "items": {"type": "string"}},
                        "problems": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["index", "field", "reason"],
                                "properties": {
                                    "index": {"type": "integer"},
                                    "field": {"type": "string"},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "Player": {
                    "type": "object",
                    "required": ["player_id", "inventory", "purchases", "computed_at"],
                    "properties": {
                        "player_id": {"type": "string"},
                        "inventory": {"type": "object"},
                        "purchases": {"type": "object"},
                        "guild_id": {"type": ["string", "null"]},
                        "unlocks": {"type": "array", "items": {"type": "string"}},
                        "spending": _nullable(
                            "object",
                            "segment, lifetime_spend and spend_rank from the spender_segments "
                            "mart (null until it is computed)",
                        ),
                        "computed_at": _nullable(
                            "string",
                            "when the oldest of the marts this answer comes from was computed",
                        ),
                        "landed_through": _nullable(
                            "string",
                            "when the newest landing commit folded into this answer "
                            "was made (null: the marts alone)",
                        ),
                        "guild_since": _nullable("string", "when the player joined guild_id"),
                        "data_age_s": _nullable(
                            "number",
                            "seconds since landed_through, else since computed_at: "
                            "how old the data is",
                        ),
                        "state_age_s": {
                            "type": "number",
                            "description": "seconds since the marts were read into memory",
                        },
                    },
                },
            },
        },
        "paths": {
            "/": _seed_route("log a `default` event"),
            **{f"/purchase_a_{item}": _seed_route(f"log a {item} purchase") for item in SEED_ITEMS},
            "/join_a_guild": _seed_route("log joining a guild", guild),
            "/v1/events": {
                "post": {
                    "summary": "log one event (an object) or a batch (an array)",
                    "description": "The body may be sent with `Content-Encoding: gzip`; the size "
                    "limit holds for the decompressed body too.",
                    "security": [{"apiKey": []}, {}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Event"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {"$ref": "#/components/schemas/Event"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Kafka has every event",
                            "content": _json("Accepted"),
                        },
                        "400": _error("invalid events, each named by index, field and reason"),
                        "401": _error("a valid API key or player token is required"),
                        "403": _error(
                            "the API key may not send events, or an event is for "
                            "another player than the player token's"
                        ),
                        "413": _error("too many events or too many bytes (also after gunzip)"),
                        "415": _error("not application/json, or an unsupported encoding"),
                        "429": _error("rate limit exceeded", RETRY_AFTER),
                        "503": _error("Kafka did not acknowledge in time", RETRY_AFTER),
                    },
                }
            },
            "/v1/players/{player_id}": {
                "get": {
                    "summary": "a player's inventory and purchases from the marts and the "
                    "events landed since",
                    "description": "Served from the marts and the purchases and guild joins "
                    "landed after them, as last read (every player_state_refresh_s, in the "
                    "background); `data_age_s` and the `Age` header say how old the newest data "
                    "is, `state_age_s` how long ago it was read.",
                    "security": [{"apiKey": []}, {}],
                    "parameters": [
                        {
                            "name": "player_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "the player",
                            "content": _json("Player"),
                            "headers": {
                                "Age": {
                                    "schema": {"type": "string"},
                                    "description": "seconds since the marts were computed",
                                }
                            },
                        },
                        "401": _error("a valid API key is required"),
                        "403": _error("the API key lacks the players:read scope"),
                        "404": _error("no such player in the marts"),
                        "414": {"description": "request line over the server's limit"},
                        "429": _error("rate limit exceeded", RETRY_AFTER),
                        "503": _error("the marts were never read (yet), or last read too long ago"),
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "liveness", "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "readiness: broker reachable and topic present",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text exposition format"}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "this document",
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }


def render() -> str:
    """The document as it is kept in the repository."""
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OPENAPI_PATH.write_text(render())
    print(f"wrote {OPENAPI_PATH}")
