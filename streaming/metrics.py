"""The landing service's metrics in Prometheus' format, served on `--metrics-bind`.

Spark's Kafka source commits no offsets to Kafka, so no consumer group shows the landing's
lag to Kafka's own tools: the service exports it, per partition, in records and in seconds
(the age of the oldest record not landed yet), with what each batch read, landed,
quarantined (by reason class) and dropped as a duplicate, how long it took against the
trigger interval, the end-to-end latency from `received_at` to the batch's commit, and the
time of the last commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from events.records import MALFORMED
from lake.freshness import TableFreshness

# Seconds: a batch takes one to tens of them; an event lands seconds to hours after receipt.
BATCH_BUCKETS = (0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, float("inf"))
LATENCY_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 900, 3600, 21600, 86400, float("inf"))


def reason_class(reason: str) -> str:
    """A quarantine reason without its particulars: a label of few values. A field's check
    reads "<field>: <what is wrong>" and is classed as `schema`."""
    if reason.startswith(MALFORMED):
        return "malformed"
    if ": " in reason:
        return "schema"
    return reason.replace(" ", "_")


class LandingMetrics:
    """The metrics of one landing query, in a registry of their own."""

    def __init__(self, trigger_s: float | None = None):
        self.registry = CollectorRegistry()
        r = self.registry
        # process_start_time_seconds: a restart loop shows as its changes.
        ProcessCollector(registry=r)
        self.read = Counter(
            "questlog_landing_records_read", "Kafka records the landing read", registry=r
        )
        self.landed = Counter(
            "questlog_landing_events_landed", "events appended to the lake", registry=r
        )
        self.quarantined = Counter(
            "questlog_landing_records_quarantined",
            "records kept aside in the quarantine, by reason class",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "questlog_landing_duplicates_dropped",
            "valid records whose event_id had landed already (or came twice in a batch)",
            registry=r,
        )
        self.batch = Histogram(
            "questlog_landing_batch_duration_seconds",
            "a micro-batch's duration, planning to commit",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.trigger = Gauge(
            "questlog_landing_trigger_interval_seconds",
            "the trigger interval a batch should fit in (0: until caught up)",
            registry=r,
        )
        self.lag = Gauge(
            "questlog_landing_consumer_lag_records",
            "records Kafka has that the landing has not read, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.lag_s = Gauge(
            "questlog_landing_consumer_lag_seconds",
            "the age of the oldest record not landed yet, per partition (0: caught up)",
            ["topic", "partition"],
            registry=r,
        )
        self.latency = Histogram(
            "questlog_landing_end_to_end_latency_seconds",
            "from an event's received_at to the commit of the batch that landed it",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.last_commit = Gauge(
            "questlog_landing_last_commit_timestamp_seconds",
            "when a batch last committed to the lake (Unix time)",
            registry=r,
        )
        self.trigger.set(trigger_s or 0)
        # The lake's freshness, and the marts' when they follow the stream in this service.
        self.freshness = TableFreshness(r)
        self._newest_landed_s: float | None = None

    def serve(self, bind: str) -> None:
        """Serve /metrics on `host:port` from a daemon thread."""
        host, _, port = bind.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)

    def batch_written(
        self,
        *,
        read: int,
        landed: int,
        duplicates: int,
        reasons: dict[str, int],
        received_us: Iterable[int],
        committed_at: float,
    ) -> None:
        """What one batch's write did. `received_us`: the received_at (Unix microseconds) of
        every valid record it read, a duplicate's included (its time to the batch's commit)."""
        self.read.inc(read)
        self.landed.inc(landed)
        self.duplicates.inc(duplicates)
        for reason, count in reasons.items():
            self.quarantined.labels(reason_class(reason)).inc(count)
        newest = self._newest_landed_s
        for micros in received_us:
            self.latency.observe(max(committed_at - micros / 1e6, 0.0))
            newest = micros / 1e6 if newest is None else max(newest, micros / 1e6)
        self._newest_landed_s = newest
        self.freshness.record(["events"], newest, None, committed_at)
        self.last_commit.set(committed_at)

    def batch_done(self, duration_s: float, lag: dict[tuple[str, int], int]) -> None:
        """A finished batch's duration and what Kafka held past it, per partition."""
        self.batch.observe(duration_s)
        for (topic, partition), records in lag.items():
            self.lag.labels(topic, str(partition)).set(records)

    def lag_ages(self, ages_s: dict[tuple[str, int], float]) -> None:
        for (topic, partition), age_s in ages_s.items():
            self.lag_s.labels(topic, str(partition)).set(age_s)


def oldest_unread_age_s(
    consumer: KafkaConsumer, next_offsets: dict[tuple[str, int], int], lag, now: float
) -> dict[tuple[str, int], float]:
    """Per partition, the age in seconds of the record at its next offset to read (by its
    Kafka timestamp); 0 where nothing is waiting."""
    ages = {}
    for (topic, partition), offset in next_offsets.items():
        ages[(topic, partition)] = 0.0
        if lag.get((topic, partition), 0) <= 0:
            continue
        where = TopicPartition(topic, partition)
        consumer.assign([where])
        consumer.seek(where, offset)
        records = consumer.poll(timeout_ms=2000, max_records=1).get(where, [])
        if records:
            ages[(topic, partition)] = max(now - records[0].timestamp / 1000, 0.0)
    return ages


def age_consumer(bootstrap: str) -> KafkaConsumer:
    """A consumer that only reads one record's timestamp at a time; it joins no group."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        max_poll_records=1,
        fetch_max_bytes=1 << 20,
        consumer_timeout_ms=2000,
    )
