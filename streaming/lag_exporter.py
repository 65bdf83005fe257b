"""The landing's lag, exported by a process that outlives the landing service.

    python -m streaming.lag_exporter [--bind HOST:PORT]

The landing service exports its own lag (streaming/metrics.py), but only while it runs: when
it is down nothing would say that events pile up. This process reads, at every scrape, what
the landing query last committed (its checkpoint, over WebHDFS) and what Kafka holds (the end
offsets), and exports the difference per partition in records and in seconds: the age of the
oldest record not landed, by its Kafka timestamp. Before the first commit every record of the
topic counts as not landed. Metric names are the landing service's own, so one alert rule
reads either source.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading
import time
from collections.abc import Callable

from hdfs import InsecureClient
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily

from lake.offsets import Offsets, webhdfs_committed_offsets
from lake.settings import LakeSettings
from streaming.metrics import age_consumer, oldest_unread_age_s

QUERY = "land_events"


def lag_per_partition(
    committed: Offsets | None, topic: str, beginnings: dict[int, int], ends: dict[int, int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Per partition, the next offset the landing reads and the records past it. Without a
    commit (or for a partition the commit does not name) the landing starts at the beginning."""
    done = (committed or {}).get(topic, {})
    next_offsets, lag = {}, {}
    for partition, end in ends.items():
        start = beginnings.get(partition, 0)
        next_offsets[partition] = max(done.get(str(partition), start), start)
        lag[partition] = max(end - next_offsets[partition], 0)
    return next_offsets, lag


class LagCollector:
    """Computes the lag when Prometheus scrapes (one scrape at a time). Kafka's consumer is
    made at the first scrape that reaches a broker: the exporter may start before Kafka."""

    def __init__(self, settings: LakeSettings, consumer: Callable[[], KafkaConsumer], hdfs):
        self.topic = settings.topic
        self.checkpoint = f"{settings.checkpoint_root}/{QUERY}"
        self.new_consumer, self.hdfs = consumer, hdfs
        self.consumer: KafkaConsumer | None = None
        self._lock = threading.Lock()

    def collect(self):
        up = GaugeMetricFamily(
            "questlog_lag_exporter_up", "1 when Kafka and the checkpoint could both be read"
        )
        with self._lock:
            try:
                families = self._lag_families()
            except Exception as error:  # noqa: BLE001 (any failure is a scrape without lag)
                print(f"lag exporter: {type(error).__name__}: {error}", file=sys.stderr)
                up.add_metric([], 0)
                yield up
                return
        up.add_metric([], 1)
        yield up
        yield from families

    def _lag_families(self) -> list[GaugeMetricFamily]:
        if self.consumer is None:
            self.consumer = self.new_consumer()
        partitions = [
            TopicPartition(self.topic, p)
            for p in sorted(self.consumer.partitions_for_topic(self.topic) or ())
        ]
        if not partitions:
            raise RuntimeError(f"topic {self.topic!r} has no partitions (does it exist?)")
        ends = {tp.partition: o for tp, o in self.consumer.end_offsets(partitions).items()}
        starts = {tp.partition: o for tp, o in self.consumer.beginning_offsets(partitions).items()}
        committed = webhdfs_committed_offsets(self.hdfs, self.checkpoint)
        next_offsets, lag = lag_per_partition(committed, self.topic, starts, ends)
        ages = oldest_unread_age_s(
            self.consumer,
            {(self.topic, p): o for p, o in next_offsets.items()},
            {(self.topic, p): n for p, n in lag.items()},
            time.time(),
        )
        records = GaugeMetricFamily(
            "questlog_landing_consumer_lag_records",
            "records Kafka has that the landing has not committed, per partition",
            labels=["topic", "partition"],
        )
        seconds = GaugeMetricFamily(
            "questlog_landing_consumer_lag_seconds",
            "the age of the oldest record not landed yet, per partition (0: caught up)",
            labels=["topic", "partition"],
        )
        for partition in sorted(ends):
            records.add_metric([self.topic, str(partition)], lag[partition])
            seconds.add_metric([self.topic, str(partition)], ages[(self.topic, partition)])
        return [records, seconds]


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m streaming.lag_exporter", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--bind", default=settings.lag_metrics_bind, help="host:port to serve on")
    # The stack's process tags (-Dquestlog.*) may follow; they only mark the command line.
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    registry = CollectorRegistry()
    hdfs = InsecureClient(settings.webhdfs_url, timeout=5)
    consumer = functools.partial(age_consumer, settings.kafka_bootstrap)
    registry.register(LagCollector(settings, consumer, hdfs))
    host, _, port = args.bind.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
    print(
        f"lag exporter: topic {settings.topic!r} against {settings.checkpoint_root}/{QUERY}, "
        f"serving http://{args.bind}/metrics",
        flush=True,
    )
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
