"""The CPU one request spends on the ingest's metrics, as gunicorn's workers record them
(multiprocess mode: values in memory-mapped files shared with the `/metrics` route).

    python -m bench.metrics_cost [calls]      prints microseconds per request

Runs in a process of its own: the multiprocess mode is chosen when the metrics are made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def per_request_us(calls: int) -> float:
    """Microseconds of the metric calls one accepted seed request makes (ingest/app.py,
    ingest/intake.py, ingest/publisher.py), queued and applied, averaged over `calls`
    requests."""
    from ingest import metrics

    def request() -> None:
        metrics.EVENTS_ACCEPTED.labels("purchase").inc(1)
        metrics.PUBLISH_SECONDS.observe(0.004)
        metrics.EVENTS_IN_FLIGHT.set(0)
        metrics.REQUESTS.labels("/purchase_a_sword", "GET", "200").inc()

    for _ in range(1000):
        request()
    metrics.applied()
    started = time.perf_counter()
    for _ in range(calls):
        request()
    # A request's updates cost it their queueing and, later, their applying.
    metrics.applied()
    return (time.perf_counter() - started) / calls * 1e6


def measure(calls: int = 50_000) -> float:
    """`per_request_us` in a fresh process with a metrics folder of its own."""
    with tempfile.TemporaryDirectory(prefix="questlog-metrics-") as folder:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder}
        command = [sys.executable, "-m", "bench.metrics_cost", str(calls)]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(output.stdout.strip())


if __name__ == "__main__":
    print(f"{per_request_us(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000):.3f}")
