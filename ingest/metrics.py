"""Prometheus metrics of the ingest service (multiprocess-safe under gunicorn).

A request thread does not update a metric itself: it queues the update, and the queue is
applied in batches, every `APPLY_EVERY_S` by a thread of the worker process and by a scrape
before it reads (`applied`). prometheus_client's multiprocess values share one lock per
process: a worker's 16 request threads queued behind it cost the seed route about a fifth of
its rate. A thread woken by every update cost about as much again, in switches of the GIL
(docs/benchmarks.md, "Where the time goes").
"""

from __future__ import annotations

import os
import queue
import threading
import time

from prometheus_client import Counter, Gauge, Histogram

APPLY_EVERY_S = 0.25

_updates: queue.SimpleQueue = queue.SimpleQueue()
_apply_lock = threading.Lock()
_children: dict = {}
_applier_lock = threading.Lock()
_applier_started = False


def _apply(metric, label_values: tuple[str, ...], method: str, value: float) -> None:
    target = metric
    if label_values:
        key = (id(metric), label_values)
        target = _children.get(key)
        if target is None:
            target = _children[key] = metric.labels(*label_values)
    getattr(target, method)(value)


def applied() -> None:
    """Apply every update queued so far in this process.

    Counts of one metric and labels are added up first and applied once, and only a gauge's
    last value is set: each application takes the multiprocess lock and writes its file.
    """
    with _apply_lock:
        sums: dict[tuple, float] = {}
        observed = []
        while True:
            try:
                metric, label_values, method, value = _updates.get_nowait()
            except queue.Empty:
                break
            if method == "inc":
                key = (metric, label_values, method)
                sums[key] = sums.get(key, 0) + value
            elif method == "set":
                sums[(metric, label_values, method)] = value
            else:
                observed.append((metric, label_values, method, value))
        for (metric, label_values, method), value in sums.items():
            _apply(metric, label_values, method, value)
        for update in observed:
            _apply(*update)


def _apply_forever() -> None:
    while True:
        time.sleep(APPLY_EVERY_S)
        applied()


def _queue(update) -> None:
    global _applier_started
    # The applier is started in the process that records (a gunicorn worker, after the fork;
    # a fork forgets it, `_forget_applier`).
    if not _applier_started:
        with _applier_lock:
            if not _applier_started:
                threading.Thread(target=_apply_forever, name="metrics", daemon=True).start()
                _applier_started = True
    _updates.put(update)


def _forget_applier() -> None:
    global _applier_started
    _applier_started = False


os.register_at_fork(after_in_child=_forget_applier)


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
