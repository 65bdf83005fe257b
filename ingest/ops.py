"""Operations routes: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from functools import cache
from pathlib import Path

from flask import Blueprint, Request, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ingest import metrics

bp = Blueprint("ops", __name__)

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@bp.get("/healthz")
def healthz():
    """The process is alive."""
    return jsonify({"status": "ok"})


# What only the ops port serves when there is one; the public port keeps the API, liveness and
# readiness without its detail (broker names and errors are not the public's).
OPS_ONLY = frozenset({"ops.prometheus_metrics", "ops.openapi"})


def on_ops_port() -> bool:
    """Whether this request came in on the ops port (True when the ops routes share the
    public port)."""
    port = current_app.config["SETTINGS"].ops_port
    return port is None or request.environ.get("SERVER_PORT") == str(port)


def keep_ops_apart(ops_port: int | None, req: Request) -> None:
    """With an ops port, the ops-only routes answer only there and the API only on the public
    port (404 elsewhere); liveness and readiness answer on both. `req` has matched a route."""
    if ops_port is None or req.endpoint in {"ops.healthz", "ops.readyz"}:
        return
    if (req.environ.get("SERVER_PORT") == str(ops_port)) != (req.endpoint in OPS_ONLY):
        abort(404)


@bp.get("/readyz")
def readyz():
    """Ready when the broker answers and the topic exists (answer reused for a second)."""
    ready, detail = current_app.extensions["questlog.publisher"].ready()
    body = {"status": "ready" if ready else "not ready"}
    if on_ops_port():
        body["detail"] = detail
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


class _Kept:
    """A value rebuilt by one thread at a time when older than `max_age_s`."""

    def __init__(self, build, max_age_s: float):
        self.build, self.max_age_s = build, max_age_s
        self._lock = threading.Lock()
        self._made_at, self._value = float("-inf"), None

    def get(self):
        with self._lock:
            if time.monotonic() - self._made_at >= self.max_age_s:
                self._value, self._made_at = self.build(), time.monotonic()
            return self._value


def _metrics_now() -> bytes:
    metrics.applied()
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return generate_latest(registry)


@bp.get("/metrics")
def prometheus_metrics():
    """Metrics in Prometheus text format, summed over gunicorn workers when there are several.

    Reading every worker's files costs; the text is kept for `probe_cache_s`, built by one
    thread.
    """
    kept = current_app.extensions.get("questlog.metrics_text")
    if kept is None:
        max_age_s = current_app.config["SETTINGS"].probe_cache_s
        kept = current_app.extensions.setdefault(
            "questlog.metrics_text", _Kept(_metrics_now, max_age_s)
        )
    return Response(kept.get(), mimetype=CONTENT_TYPE_LATEST)


@cache
def _openapi() -> dict:
    return json.loads(OPENAPI_PATH.read_text())


@cache
def documented_methods(rule: str) -> frozenset[str]:
    """The HTTP methods the OpenAPI document lists for a Flask route rule."""
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
    return frozenset(method.upper() for method in _openapi()["paths"].get(path, {}))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of every route, as kept in the repository."""
    return jsonify(_openapi())
