"""The Kafka ceiling: Kafka's own producer perf tool and kafka-python with the ingest settings."""

from __future__ import annotations

import re
import time

from kafka import KafkaProducer

from bench.stats import percentile
from ingest.settings import IngestSettings
from stack.manager import run_kafka_tool

PERF_TOOL = "org.apache.kafka.tools.ProducerPerformance"
# Both producers batch as the ingest service's does.
LINGER_MS = IngestSettings.publish_linger_ms
# The last line ProducerPerformance prints: the totals of the whole run.
PERF_SUMMARY = re.compile(
    r"(?P<records>\d+) records sent, (?P<per_s>[\d.]+) records/sec .*?"
    r"(?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th"
)


def parse_perf_summary(output: str) -> dict:
    """Records, records/s and latency percentiles (ms) from ProducerPerformance's output."""
    matches = list(PERF_SUMMARY.finditer(output))
    if not matches:
        raise ValueError(f"no summary line in ProducerPerformance output:\n{output[-2000:]}")
    found = matches[-1]
    return {
        "events": int(found["records"]),
        "events_per_s": float(found["per_s"]),
        "p50_ms": float(found["p50"]),
        "p95_ms": float(found["p95"]),
        "p99_ms": float(found["p99"]),
    }


def perf_tool_run(bootstrap: str, topic: str, events: int, record_size: int) -> dict:
    """One run of Kafka's ProducerPerformance with the ingest service's acks and idempotence."""
    result = run_kafka_tool(
        PERF_TOOL,
        "--topic", topic,
        "--num-records", str(events),
        "--record-size", str(record_size),
        "--throughput", "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        f"linger.ms={LINGER_MS}",
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"ProducerPerformance failed:\n{result.stderr[-2000:]}")
    return parse_perf_summary(result.stdout)


def kafka_python_run(bootstrap: str, topic: str, events: int, value: bytes) -> dict:
    """Send `events` copies of one event as fast as kafka-python can, as the ingest does."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=LINGER_MS,
        metrics_enabled=False,
    )
    latencies_ms: list[float] = []
    errors: list[Exception] = []

    def acknowledged(sent_at: float):
        return lambda _: latencies_ms.append((time.perf_counter() - sent_at) * 1000)

    try:
        producer.partitions_for(topic)  # metadata first, as the ingest has it when serving
        started = time.perf_counter()
        for number in range(events):
            key = f"player-{number % 1000:05d}".encode()
            future = producer.send(topic, value, key=key)
            future.add_callback(acknowledged(time.perf_counter()))
            future.add_errback(errors.append)
        producer.flush()
        elapsed = time.perf_counter() - started
    finally:
        producer.close()
    if errors:
        raise RuntimeError(f"{len(errors)} sends failed, the first: {errors[0]!r}")
    return {
        "events": events,
        "events_per_s": events / elapsed,
        "p50_ms": percentile(latencies_ms, 0.50),
        "p95_ms": percentile(latencies_ms, 0.95),
        "p99_ms": percentile(latencies_ms, 0.99),
    }
