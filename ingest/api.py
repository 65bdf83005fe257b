"""The JSON API: `POST /v1/events` (one event or a batch) and `GET /v1/players/<id>`."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import orjson
from flask import Blueprint, abort, current_app, jsonify, request

from events.catalog import CATALOG
from events.envelope import normalize, validate
from ingest import guard, intake, metrics
from ingest.errors import ApiError
from ingest.players import data_age_s

bp = Blueprint("api", __name__, url_prefix="/v1")

# An event is three levels deep; anything much deeper is refused before it is looked at.
MAX_DEPTH = 16


def _deeper_than(value, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels in `value`."""
    if limit < 0:
        return True
    if isinstance(value, dict):
        return any(_deeper_than(v, limit - 1) for v in value.values())
    if isinstance(value, list):
        return any(_deeper_than(v, limit - 1) for v in value)
    return False


def _body_bytes() -> bytes:
    """The request body, gunzipped when so encoded, never more than the size limit."""
    limit = current_app.config["SETTINGS"].max_body_bytes
    raw = request.get_data(cache=False)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        abort(415, f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as error:
        abort(400, f"the body is not valid gzip: {error}")
    if len(body) > limit or inflater.unconsumed_tail:
        abort(413, f"the decompressed body is larger than {limit} bytes")
    if not inflater.eof:
        abort(400, "the gzip body is truncated")
    if inflater.unused_data:
        abort(400, "the body has bytes after the end of its gzip stream")
    return body


def _client_events() -> tuple[list, bool]:
    """The events of the request body and whether it was a batch; aborts 4xx when unreadable."""
    if request.mimetype != "application/json":
        abort(415, "Content-Type must be application/json")
    # orjson refuses what the lake could not hold: invalid UTF-8, lone surrogates, NaN and
    # infinite numbers, nesting past 1024 levels; integers past 64 bits come back as floats.
    try:
        payload = orjson.loads(_body_bytes())
    except orjson.JSONDecodeError as error:
        abort(400, f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}")
    if _deeper_than(payload, MAX_DEPTH):
        abort(400, f"the body nests arrays and objects deeper than {MAX_DEPTH} levels")
    if isinstance(payload, dict):
        return [payload], False
    if not isinstance(payload, list):
        abort(400, "the body must be one event (an object) or a batch (an array of events)")
    if not payload:
        abort(400, "the batch is empty")
    max_events = current_app.config["SETTINGS"].max_batch_events
    if len(payload) > max_events:
        abort(413, f"the batch has {len(payload)} events; at most {max_events} are taken")
    return payload, True


@bp.post("/events")
def post_events():
    """Validate, then log to Kafka; 202 only once Kafka acknowledged every event."""
    sent_by = guard.sender()
    client_events, is_batch = _client_events()
    client_events = [normalize(event) for event in client_events]
    problems = [p for index, event in enumerate(client_events) for p in validate(event, index)]
    if problems:
        for event in client_events:
            event_type = event.get("event_type") if isinstance(event, dict) else None
            label = (
                event_type if isinstance(event_type, str) and event_type in CATALOG else "unknown"
            )
            metrics.EVENTS_REJECTED.labels(label, "invalid").inc()
        raise ApiError(
            400,
            "the batch was rejected whole; nothing was published"
            if is_batch
            else "the event was rejected",
            problems=[p.as_dict() for p in problems],
        )
    guard.own_player_only(sent_by, [event["player_id"] for event in client_events])
    deliveries = intake.publish(client_events, api_version="v1", sent_by=sent_by)
    body = {"accepted": len(deliveries), "event_ids": [d.event_id for d in deliveries]}
    return current_app.response_class(orjson.dumps(body), 202, mimetype="application/json")


@bp.get("/players/<player_id>")
def get_player(player_id: str):
    """A player's inventory and purchase summary from the last marts read, with the age of
    that data (since the marts were computed) and of the read."""
    guard.limit_reads(guard.api_key(guard.PLAYERS_READ))
    state = current_app.extensions["questlog.player_state"]
    player, state_age_s = state.lookup(player_id)
    if player is None:
        abort(404, f"no player {player_id[:128]!r} in the marts")
    age_s = data_age_s(player, datetime.now(UTC))
    if age_s is not None:
        metrics.PLAYER_DATA_AGE_SECONDS.observe(age_s)
    response = jsonify(
        {
            **player,
            "data_age_s": None if age_s is None else round(age_s, 3),
            "state_age_s": round(state_age_s, 3),
        }
    )
    if age_s is not None:
        # Seconds since the answer's data was computed, as a cache counts from the origin.
        response.headers["Age"] = str(int(age_s))
    return response
