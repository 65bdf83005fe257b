"""What every route does with accepted events: enrich, rate-limit and publish to Kafka."""

from __future__ import annotations

from collections import Counter

from flask import current_app, request

from events.envelope import EncodeError, enrich, utc_now_iso
from ingest import metrics
from ingest.errors import ApiError
from ingest.guard import Sender, limit
from ingest.publisher import Delivery, PublishError


def request_context(api_version: str) -> dict:
    """Server-side facts about the request, stored apart from the event's properties."""
    return {
        "host": request.host[:256],
        "user_agent": request.headers.get("User-Agent", "")[:256],
        "remote_addr": (request.remote_addr or "")[:256],
        "api_version": api_version,
    }


def _reject(events: list[dict], reason: str) -> None:
    for event_type, count in Counter(e["event_type"] for e in events).items():
        metrics.EVENTS_REJECTED.labels(event_type, reason).inc(count)


def publish(client_events: list[dict], *, api_version: str, sent_by: Sender) -> list[Delivery]:
    """Enrich valid client events and log them to Kafka; aborts 429 or 503 otherwise."""
    received_at = utc_now_iso()
    context = request_context(api_version)
    events = [enrich(event, context, received_at) for event in client_events]
    try:
        limit(sent_by, Counter(e["player_id"] for e in events))
    except Exception:
        _reject(events, "rate_limited")
        raise
    settings = current_app.config["SETTINGS"]
    try:
        deliveries = current_app.extensions["questlog.publisher"].publish(events)
    except EncodeError as error:
        _reject(events, "invalid")
        raise ApiError(400, str(error)) from error
    except PublishError as error:
        _reject(events, "unavailable")
        current_app.logger.warning("events not accepted", extra={"reason": str(error)})
        # The ids let a client that sent none retry without the events counting twice.
        raise ApiError(
            503,
            f"events not accepted, retry with the same event_ids: {error}",
            headers={"Retry-After": str(settings.retry_after_s)},
            event_ids=[e["event_id"] for e in events],
        ) from error
    for event_type, count in Counter(e["event_type"] for e in events).items():
        metrics.EVENTS_ACCEPTED.labels(event_type).inc(count)
    return deliveries
