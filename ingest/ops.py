"""Operations routes: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

bp = Blueprint("ops", __name__)

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@bp.get("/healthz")
def healthz():
    """The process is alive."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the broker answers and the topic exists."""
    ready, detail = current_app.extensions["questlog.publisher"].ready()
    response = jsonify({"status": "ready" if ready else "not ready", "detail": detail})
    response.status_code = 200 if ready else 503
    return response


@bp.get("/metrics")
def prometheus_metrics():
    """Metrics in Prometheus text format, summed over gunicorn workers when there are several."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@cache
def _openapi() -> dict:
    return json.loads(OPENAPI_PATH.read_text())


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of every route, as kept in the repository."""
    return jsonify(_openapi())
