"""The application factory of the ingest service."""

from __future__ import annotations

import logging
import random
import time

from flask import Flask, abort, g, jsonify, request
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException

from ingest import metrics
from ingest.errors import ApiError
from ingest.guard import RateLimiter, parse_api_keys
from ingest.ops import documented_methods, keep_ops_apart
from ingest.publisher import KafkaPublisher
from ingest.settings import IngestSettings, ServingSettings
from ingest.tokens import PlayerTokens

# A request slower than this is logged even when it succeeded.
SLOW_REQUEST_S = 1.0


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id", "-")
        except RuntimeError:  # outside a request
            record.request_id = "-"
        return True


def _configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger("ingest")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def create_app(test_config: dict | None = None) -> Flask:
    """Build the service: defaults, then `QUESTLOG_*` settings, then the test's overrides.

    `test_config` may hold `SETTINGS` (an IngestSettings), `PUBLISHER` (anything with the
    KafkaPublisher interface) and `PLAYER_STATE` (a player state reader).
    Raises ValueError for settings it must not run with (production without API keys).
    """
    test_config = test_config or {}
    app = Flask(__name__)
    settings = test_config.get("SETTINGS") or IngestSettings.from_env()
    settings.check()
    app.config["SETTINGS"] = settings
    app.config["API_KEYS"] = parse_api_keys(settings.api_keys)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    _configure_logging(app)
    app.extensions["questlog.player_tokens"] = PlayerTokens.from_settings(settings)
    if settings.env == "production" and settings.allow_unbound_client_keys:
        app.logger.warning(
            "QUESTLOG_ALLOW_UNBOUND_CLIENT_KEYS: client keys may send events for any player "
            "(for a migration to player tokens only)"
        )
    if settings.is_open:
        app.logger.warning(
            "open: no API keys are set, anyone may send events and read players "
            "(local development only; QUESTLOG_ENV=production refuses this)"
        )

    app.extensions["questlog.publisher"] = test_config.get("PUBLISHER") or KafkaPublisher(
        bootstrap=settings.kafka_bootstrap,
        topic=settings.topic,
        timeout_s=settings.publish_timeout_s,
        max_in_flight=settings.max_in_flight_events,
        linger_ms=settings.publish_linger_ms,
        threads=ServingSettings.from_env().ingest_threads,
        single_batch_bytes=settings.publish_single_batch_bytes,
        probe_cache_s=settings.probe_cache_s,
    )
    limits = {
        "questlog.key_limiter": (settings.key_rate_per_s, settings.key_burst),
        "questlog.address_limiter": (settings.address_rate_per_s, settings.address_burst),
        "questlog.player_limiter": (settings.player_rate_per_s, settings.player_burst),
        "questlog.read_limiter": (settings.player_read_rate_per_s, settings.player_read_burst),
    }
    for name, (rate, burst) in limits.items():
        app.extensions[name] = RateLimiter(rate, burst, max_names=settings.rate_limit_max_names)
    # Imported here, at the worker's start, not on the first player request: importing
    # delta-rs, pyarrow and pandas holds the GIL for seconds, and every request in the
    # worker waited for it (tests/integration/test_ingest_faults.py). The marts are read
    # on the first player request, in the background.
    from ingest.players import PlayerState

    app.extensions["questlog.player_state"] = test_config.get(
        "PLAYER_STATE"
    ) or PlayerState.from_settings(settings)

    from ingest import api, ops, seed

    app.register_blueprint(seed.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)

    # The hooks run for every request: they read the request and `g` through one lookup of
    # Flask's context-local proxies each, not one per attribute.
    @app.before_request
    def _start_request():
        req, ctx = request._get_current_object(), g._get_current_object()
        # Unique, not secret: Python's generator, reseeded in each forked worker, costs a
        # seventh of os.urandom's system call.
        given = req.environ.get("HTTP_X_REQUEST_ID")
        ctx.request_id = given[:128] if given else f"{random.getrandbits(128):032x}"
        ctx.started = time.perf_counter()
        rule = req.url_rule
        if rule is None:
            return
        keep_ops_apart(settings.ops_port, req)
        # Flask adds HEAD and OPTIONS to every GET route; only what the OpenAPI document
        # promises may run (a HEAD /purchase_a_sword must not log a purchase).
        allowed = documented_methods(rule.rule)
        if allowed and req.method not in allowed:
            abort(405, valid_methods=sorted(allowed))

    @app.after_request
    def _finish_request(response):
        req, ctx = request._get_current_object(), g._get_current_object()
        # Added, not set: no response carries one before this hook, and `set` would look.
        response.headers.add("X-Request-Id", ctx.get("request_id", ""))
        route = req.url_rule.rule if req.url_rule else "(unmatched)"
        status = response.status_code
        metrics.REQUESTS.labels(route, req.method, str(status)).inc()
        seconds = time.perf_counter() - ctx.get("started", 0)
        # Accepted requests are counted in /metrics; a log line each cost a tenth of the
        # service's time in a lock (py-spy, docs/benchmarks.md). Refusals and slow ones are
        # logged.
        if status >= 400 or seconds > SLOW_REQUEST_S:
            app.logger.info(
                "request",
                extra={
                    "method": req.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        body = {"error": error.name, "message": error.description}
        if isinstance(error, ApiError):
            body |= error.body_fields()
        response = jsonify(body)
        response.status_code = error.code
        # Keep what the error itself carries: Allow on a 405, an ApiError's headers.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        if error.code == 405 and getattr(error, "valid_methods", None):
            # Flask's automatic HEAD and OPTIONS are answered 405 too (see _start_request).
            documented = [m for m in error.valid_methods if m not in ("HEAD", "OPTIONS")]
            response.headers["Allow"] = ", ".join(sorted(documented))
        return response

    return app


def publisher(app: Flask) -> KafkaPublisher:
    """The app's publisher, as the factory kept it."""
    return app.extensions["questlog.publisher"]
