"""What every route does with accepted events: enrich, rate-limit and publish to Kafka."""

from __future__ import annotations

from flask import Request, current_app, request

from events.envelope import EncodeError, enrich, utc_now_iso
from ingest import metrics
from ingest.errors import ApiError
from ingest.guard import Sender, limit
from ingest.publisher import Delivery, PublishError


def request_context(req: Request, api_version: str) -> dict:
    """Server-side facts about the request, stored apart from the event's properties."""
    return {
        "host": req.host[:256],
        "user_agent": req.environ.get("HTTP_USER_AGENT", "")[:256],
        "remote_addr": (req.remote_addr or "")[:256],
        "api_version": api_version,
    }


def _count(events: list[dict], field: str) -> dict[str, int]:
    """Events by the value of `field`: a dict filled in a loop costs a single event a seventh
    of a Counter."""
    counts: dict[str, int] = {}
    for event in events:
        value = event[field]
        counts[value] = counts.get(value, 0) + 1
    return counts


def _reject(events: list[dict], reason: str) -> None:
    for event_type, count in _count(events, "event_type").items():
        metrics.EVENTS_REJECTED.labels(event_type, reason).inc(count)


def publish(client_events: list[dict], *, api_version: str, sent_by: Sender) -> list[Delivery]:
    """Enrich valid client events and log them to Kafka; aborts 429 or 503 otherwise."""
    # One lookup of each of Flask's context-local proxies, not one per attribute.
    app, req = current_app._get_current_object(), request._get_current_object()
    received_at = utc_now_iso()
    context = request_context(req, api_version)
    events = [enrich(event, context, received_at) for event in client_events]
    try:
        limit(app, req, sent_by, _count(events, "player_id"))
    except Exception:
        _reject(events, "rate_limited")
        raise
    settings = app.config["SETTINGS"]
    try:
        deliveries = app.extensions["questlog.publisher"].publish(events)
    except EncodeError as error:
        _reject(events, "invalid")
        raise ApiError(400, str(error)) from error
    except PublishError as error:
        _reject(events, "unavailable")
        app.logger.warning("events not accepted", extra={"reason": str(error)})
        # The ids let a client that sent none retry without the events counting twice.
        raise ApiError(
            503,
            f"events not accepted, retry with the same event_ids: {error}",
            headers={"Retry-After": str(settings.retry_after_s)},
            event_ids=[e["event_id"] for e in events],
        ) from error
    for event_type, count in _count(events, "event_type").items():
        metrics.EVENTS_ACCEPTED.labels(event_type).inc(count)
    return deliveries
