"""Prometheus metrics of the ingest service (multiprocess-safe under gunicorn).

A request thread does not update a metric itself: it queues the update, and one thread per
worker process applies the queue. prometheus_client's multiprocess values share one lock per
process, and a worker's 16 request threads queued behind it cost the seed route about a fifth
of its rate (docs/benchmarks.md, "Where the time goes"). A scrape applies what is queued
before it reads (`applied`).
"""

from __future__ import annotations

import os
import queue
import threading

from prometheus_client import Counter, Gauge, Histogram

_updates: queue.SimpleQueue = queue.SimpleQueue()
_applier_lock = threading.Lock()
_applier_pid: int | None = None


def _apply_updates() -> None:
    """Apply queued updates forever; an Event in the queue is set once all before it are."""
    children = {}
    while True:
        update = _updates.get()
        if isinstance(update, threading.Event):
            update.set()
            continue
        metric, label_values, method, value = update
        target = metric
        if label_values:
            key = (id(metric), label_values)
            target = children.get(key)
            if target is None:
                target = children[key] = metric.labels(*label_values)
        getattr(target, method)(value)


def _queue(update) -> None:
    global _applier_pid
    # The applier is started in the process that records (a gunicorn worker, after the fork).
    if _applier_pid != os.getpid():
        with _applier_lock:
            if _applier_pid != os.getpid():
                threading.Thread(target=_apply_updates, name="metrics", daemon=True).start()
                _applier_pid = os.getpid()
    _updates.put(update)


def applied(timeout_s: float = 5.0) -> bool:
    """Wait until every update queued so far in this process is applied."""
    done = threading.Event()
    _queue(done)
    return done.wait(timeout_s)


class _Labelled:
    __slots__ = ("metric", "label_values")

    def __init__(self, metric, label_values: tuple[str, ...]):
        self.metric = metric
        self.label_values = label_values

    def inc(self, amount: float = 1) -> None:
        _queue((self.metric, self.label_values, "inc", amount))

    def observe(self, value: float) -> None:
        _queue((self.metric, self.label_values, "observe", value))


class Deferred:
    """A prometheus_client metric whose updates are queued for the applier thread."""

    def __init__(self, metric):
        self.metric = metric

    def labels(self, *label_values: str) -> _Labelled:
        return _Labelled(self.metric, label_values)

    def inc(self, amount: float = 1) -> None:
        _queue((self.metric, (), "inc", amount))

    def observe(self, value: float) -> None:
        _queue((self.metric, (), "observe", value))

    def set(self, value: float) -> None:
        _queue((self.metric, (), "set", value))


REQUESTS = Deferred(
    Counter("questlog_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
)
EVENTS_ACCEPTED = Deferred(
    Counter("questlog_events_accepted_total", "Events acknowledged by Kafka", ["event_type"])
)
EVENTS_REJECTED = Deferred(
    Counter(
        "questlog_events_rejected_total",
        "Events refused, by type and reason",
        ["event_type", "reason"],
    )
)
PUBLISH_SECONDS = Deferred(
    Histogram(
        "questlog_publish_seconds",
        "Time from sending a request's events to Kafka's last acknowledgement",
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
    )
)
EVENTS_IN_FLIGHT = Deferred(
    Gauge(
        "questlog_events_in_flight",
        "Events sent to Kafka and not yet acknowledged",
        multiprocess_mode="livesum",
    )
)
PLAYER_DATA_AGE_SECONDS = Deferred(
    Histogram(
        "questlog_player_data_age_seconds",
        "Age of the data a player answer comes from: since the marts it reads were computed",
        buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400),
    )
)
