"""The Kafka ceiling: Kafka's own ProducerPerformance, and kafka-python as the ingest sets it."""

from __future__ import annotations

from bench import kafka_ceiling
from bench.payloads import stored_purchase
from bench.run import Run, figure


def measure(run: Run) -> None:
    topic = run.ws.topic("kafka")
    value = stored_purchase()
    bootstrap = run.ws.settings.kafka_bootstrap
    perf, python = [], []
    for number in range(run.mode.repeats):
        run.step(f"kafka: ProducerPerformance {number + 1}/{run.mode.repeats}")
        perf.append(
            kafka_ceiling.perf_tool_run(bootstrap, topic, run.mode.perf_tool_events, len(value))
        )
        run.done(f"ProducerPerformance: {perf[-1]}")
        run.step(f"kafka: kafka-python {number + 1}/{run.mode.repeats}")
        python.append(
            kafka_ceiling.kafka_python_run(bootstrap, topic, run.mode.kafka_python_events, value)
        )
        run.done(f"kafka-python: {python[-1]}")
    run.details["kafka"] = {
        "record_bytes": len(value),
        "perf_tool": perf,
        "kafka_python": python,
    }
    tool = "ProducerPerformance (acks=all, idempotent)"
    run.figures += [
        figure("kafka", tool, "events/s", [r["events_per_s"] for r in perf]),
        figure("kafka", tool, "p99 ms", [r["p99_ms"] for r in perf]),
        figure(
            "kafka",
            "kafka-python producer, ingest settings",
            "events/s",
            [r["events_per_s"] for r in python],
            tool,
            [r["events_per_s"] for r in perf],
        ),
        figure(
            "kafka",
            "kafka-python producer, ingest settings",
            "p99 ms",
            [r["p99_ms"] for r in python],
            tool,
            [r["p99_ms"] for r in perf],
            higher_is_better=False,
        ),
    ]
