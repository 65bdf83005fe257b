"""The ingest service with its metrics made no-ops: the B side of the metrics' A/B run.

gunicorn -c ingest/gunicorn.conf.py "bench.no_metrics_app:create_app()"
"""

from __future__ import annotations

from flask import Flask

from ingest import create_app as ingest_app
from ingest import metrics

# Every metric ingest/metrics.py defines; every call site reads them from the module.
METRICS = (
    "REQUESTS",
    "EVENTS_ACCEPTED",
    "EVENTS_REJECTED",
    "PUBLISH_SECONDS",
    "EVENTS_IN_FLIGHT",
    "PLAYER_DATA_AGE_SECONDS",
)


class _Nothing:
    """Takes a metric's calls and does nothing."""

    def labels(self, *_args, **_kwargs) -> _Nothing:
        return self

    def inc(self, *_args) -> None:
        pass

    def observe(self, *_args) -> None:
        pass

    def set(self, *_args) -> None:
        pass


def create_app() -> Flask:
    for name in METRICS:
        setattr(metrics, name, _Nothing())
    return ingest_app()
