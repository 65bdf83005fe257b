"""The Python one seed request costs in process, Kafka stood in for: questlog's seed route
against the durable seed app's route, each called as gunicorn calls it (WSGI), no HTTP.

    python -m bench.route_cost [rounds]      prints microseconds per request, route and app

What a request costs the workers beyond this is the same for both apps (gunicorn, the
sockets) or Kafka's client's. Each figure is the fastest of `rounds` rounds: the machine's
noise only ever adds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from flask import Flask
from werkzeug.test import EnvironBuilder

from bench.run import NO_RATE_LIMITS

REQUESTS_PER_ROUND = 1000


class _Acknowledged:
    """A send's future that Kafka has acknowledged."""

    def get(self, timeout: float | None = None) -> None:
        return None


class _Producer:
    """Stands in for the durable app's KafkaProducer: every send acknowledged at once."""

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> _Acknowledged:
        return _Acknowledged()


class _Publisher:
    """Stands in for questlog's KafkaPublisher: every event acknowledged at once."""

    def publish(self, events: list[dict]) -> list:
        from ingest.publisher import Delivery

        return [Delivery(event["event_id"], 0, 0) for event in events]

    def ready(self) -> tuple[bool, str]:
        return True, "stood in for"

    def close(self, timeout_s: float = 0) -> None:
        pass


def _round_us(app: Flask, requests: int) -> float:
    """Microseconds per request of `requests` GET /purchase_a_sword, a new player each."""
    environs = [
        EnvironBuilder(
            path="/purchase_a_sword",
            query_string=f"player_id=player-{number}",
            headers={"User-Agent": "wrk"},
        ).get_environ()
        for number in range(requests)
    ]

    answers = []

    def start_response(status: str, headers: list, exc_info=None) -> None:
        answers.append(status)

    started = time.perf_counter()
    for environ in environs:
        body = app(environ, start_response)
        b"".join(body)
        body.close()
    elapsed = time.perf_counter() - started
    refused = [status for status in answers if not status.startswith("200")]
    if refused:
        raise RuntimeError(f"{len(refused)} of {requests} requests refused: {refused[0]}")
    return elapsed / requests * 1e6


def fastest_us(apps: dict[str, Callable[[], Flask]], rounds: int) -> dict[str, float]:
    """Per app, the fastest round's microseconds per request; the apps' rounds alternate."""
    built = {name: make() for name, make in apps.items()}
    for app in built.values():
        _round_us(app, 100)
    times: dict[str, list[float]] = {name: [] for name in built}
    for _ in range(rounds):
        for name, app in built.items():
            times[name].append(_round_us(app, REQUESTS_PER_ROUND))
    return {name: min(values) for name, values in times.items()}


def per_request_us(rounds: int) -> dict[str, float]:
    """The seed route and the durable app, microseconds per request."""
    from bench.seed_app import create_durable_app
    from ingest import create_app
    from ingest.settings import IngestSettings

    settings = IngestSettings.from_env()
    return fastest_us(
        {
            "seed": lambda: create_app({"SETTINGS": settings, "PUBLISHER": _Publisher()}),
            "durable": lambda: create_durable_app(_Producer()),
        },
        rounds,
    )


def measure(rounds: int = 15) -> dict[str, float]:
    """`per_request_us` in a fresh process, with no rate limits reached and metrics of its own
    (as `bench.metrics_cost`)."""
    with tempfile.TemporaryDirectory(prefix="questlog-metrics-") as folder:
        env = {**os.environ, **NO_RATE_LIMITS, "PROMETHEUS_MULTIPROC_DIR": folder}
        command = [sys.executable, "-m", "bench.route_cost", str(rounds)]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    seed, durable = output.stdout.split()
    return {"seed": float(seed), "durable": float(durable)}


if __name__ == "__main__":
    found = per_request_us(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    print(f"{found['seed']:.2f} {found['durable']:.2f}")
