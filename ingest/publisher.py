"""Publishing events to Kafka, with success claimed only once the broker acknowledged them."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaProducer

from events.envelope import to_kafka
from ingest import metrics

log = logging.getLogger(__name__)


class PublishError(Exception):
    """Kafka did not acknowledge every event in time; the caller answers 503."""


@dataclass(frozen=True)
class Delivery:
    """Where Kafka put one acknowledged event."""

    event_id: str
    partition: int
    offset: int


# A request of one event goes through the first producer, of several through the second.
ONE, MANY = "one", "many"
# Kafka's default batch size, kept for requests of several events.
MANY_BATCH_BYTES = 16384
# About what one event takes in a batch: its JSON (350-400 bytes), key and record header.
EVENT_BYTES = 400


class KafkaPublisher:
    """Sends events with acks=all and idempotence; connects on first use, not at start.

    Two producers, which differ only in the size at which a partition's batch closes:
    - A request of one event (every seed route, most game clients) goes through batches that
      close at a partition's share of the worker's `threads`: each thread waits on one event,
      and the events spread over the topic's partitions. A batch that fills while they wait
      goes then, not after the linger (16 threads, 3 partitions: 2 KB, five events; a sixth
      does not fit and sends them). With Kafka's 16 KB a batch of one-event requests never
      filled, and every request waited out the linger while the machine stood idle
      (docs/benchmarks.md). `single_batch_bytes` sets the size instead.
    - A request of several events goes through Kafka's 16 KB batches: one produce request
      carries one batch per partition, and 2 KB batches cost a 50-event request twice the CPU.
    Each request's events go through one producer, in order.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        timeout_s: float,
        max_in_flight: int,
        linger_ms: int = 5,
        threads: int = 16,
        single_batch_bytes: int = 0,
        probe_cache_s: float = 1.0,
        clock=time.monotonic,
    ):
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self.max_in_flight = max_in_flight
        self.linger_ms = linger_ms
        self.threads = threads
        self.single_batch_bytes = single_batch_bytes
        self.probe_cache_s = probe_cache_s
        self.clock = clock
        self._producers: dict[str, KafkaProducer | None] = {ONE: None, MANY: None}
        self._lock = threading.Lock()
        self._in_flight = 0
        # One connection attempt at a time per producer, made outside `_lock`; the others
        # wait for it.
        self._connecting: dict[str, threading.Event | None] = {ONE: None, MANY: None}
        self._failed_at: float | None = None
        self._failure = ""
        self._probe_lock = threading.Lock()
        self._probe: tuple[float, bool, str] | None = None

    def _new_producer(self, kind: str) -> KafkaProducer:
        timeout_ms = int(self.timeout_s * 1000)
        return KafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=self.linger_ms,
            batch_size=self._batch_bytes(kind),
            # Never block a request thread longer than the request may take.
            max_block_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=max(timeout_ms, 1000),
            # Unacknowledged events expire soon after their request gave up.
            delivery_timeout_ms=3 * max(timeout_ms, 1000),
            allow_auto_create_topics=False,
            # A leader change: the producer asks for metadata again after each failed send,
            # so a new leader is found within a retry back-off of its election; and a broker
            # back from the dead is tried again within a second, not after the 30 s cap.
            retry_backoff_ms=50,
            reconnect_backoff_max_ms=1000,
            # kafka-python's own sensors are not exported (ingest/metrics.py is) and cost a
            # tenth of its network thread's time per produce request (docs/benchmarks.md).
            metrics_enabled=False,
        )

    def _batch_bytes(self, kind: str) -> int:
        """Where a partition's batch closes: see the class. Asks the broker for the topic's
        partitions (OSError when it cannot tell)."""
        if kind == MANY:
            return MANY_BATCH_BYTES
        if self.single_batch_bytes:
            return self.single_batch_bytes
        partitions, why = self._partitions()
        if partitions is None:
            raise OSError(why)
        share = self.threads // partitions
        # A share of one event is a batch per event; Kafka's batches wait out the linger.
        return min(EVENT_BYTES * share, MANY_BATCH_BYTES) if share > 1 else MANY_BATCH_BYTES

    def _connect(self, kind: str, deadline: float) -> KafkaProducer:
        """The producer of `kind`, connecting first if there is none; PublishError by
        `deadline`.

        Building a producer waits up to the bootstrap timeout when the broker is down, so it
        happens outside the lock and once for all the requests that need it. A failed attempt
        (or a missed deadline, `_abandon`) is remembered for a second: the requests queued
        behind it fail at once instead of each waiting its own timeout.
        """
        with self._lock:
            producer = self._producers[kind]
            if producer is not None:
                return producer
            if self._failed_at is not None and self.clock() - self._failed_at < 1.0:
                raise PublishError(self._failure)
            waiting_for = self._connecting[kind]
            if waiting_for is None:
                self._connecting[kind] = threading.Event()
        if waiting_for is not None:
            waiting_for.wait(max(deadline - self.clock(), 0))
            with self._lock:
                producer = self._producers[kind]
                if producer is not None:
                    return producer
            raise PublishError(self._failure or f"cannot reach Kafka at {self.bootstrap}")
        producer, failure = None, ""
        try:
            producer = self._new_producer(kind)
        except Exception as error:  # whatever failed, there is no producer to use
            failure = f"cannot reach Kafka at {self.bootstrap}: {error}"
        with self._lock:
            self._producers[kind] = producer
            self._failed_at = None if producer else self.clock()
            self._failure = failure
            self._connecting[kind].set()
            self._connecting[kind] = None
        if producer is None:
            raise PublishError(failure)
        return producer

    def _reserve(self, count: int) -> None:
        with self._lock:
            if self._in_flight + count > self.max_in_flight:
                raise PublishError(f"{self._in_flight} events already wait for Kafka")
            self._in_flight += count

    def _release(self, count: int) -> None:
        with self._lock:
            self._in_flight -= count

    @property
    def in_flight(self) -> int:
        """Events of the requests that still wait for Kafka's acknowledgements."""
        return self._in_flight

    def publish(self, events: list[dict]) -> list[Delivery]:
        """Send `events` and wait for every acknowledgement, or raise PublishError in time.

        Every event is encoded before the first is sent, so a batch goes whole or not at all;
        an event that cannot be encoded raises EncodeError and nothing is sent.
        """
        deadline = self.clock() + self.timeout_s
        records = [to_kafka(event) for event in events]
        kind = ONE if len(events) == 1 else MANY
        producer = self._connect(kind, deadline)
        self._reserve(len(events))
        started = time.perf_counter()
        try:
            futures = [
                (event["event_id"], producer.send(self.topic, value, key=key))
                for event, (key, value) in zip(events, records, strict=True)
            ]
            deliveries = []
            for event_id, future in futures:
                metadata = future.get(timeout=max(deadline - self.clock(), 0.001))
                deliveries.append(Delivery(event_id, metadata.partition, metadata.offset))
        except Exception as error:  # KafkaError, or anything else: the caller answers 503
            # The producer goes with every event it still holds (`_abandon`), so what this
            # request reserved is free again whether or not the broker had it.
            self._release(len(events))
            self._abandon(kind, producer)
            log.warning(
                "publish failed",
                extra={"topic": self.topic, "events": len(events), "error": repr(error)},
            )
            raise PublishError(f"Kafka did not acknowledge in {self.timeout_s:g} s") from error
        self._release(len(events))
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        metrics.EVENTS_IN_FLIGHT.set(self._in_flight)
        return deliveries

    def _abandon(self, kind: str, producer: KafkaProducer) -> None:
        """Drop a producer that missed a deadline, with every event it still holds.

        Those events were answered 503, so the clients send them again; were the producer
        kept, it would deliver them too when the broker returns, and the topic would hold
        them twice. The next request connects afresh.
        """
        with self._lock:
            if self._producers[kind] is producer:
                self._producers[kind] = None
            # The broker just missed a deadline: for a second, requests are refused at once
            # rather than each waiting out its own timeout behind a broker that hangs.
            self._failed_at = self.clock()
            self._failure = f"Kafka missed a {self.timeout_s:g} s deadline just now"
        try:
            producer.close(timeout=0)
        except Exception:
            # close() stops at its flush when batches are pending; abort them instead.
            producer._sender.force_close()

    def ready(self) -> tuple[bool, str]:
        """Whether the broker answered a probe in the last `probe_cache_s`, and why not.

        One probe at a time per worker; a caller arriving while one runs gets the last
        answer rather than a thread of its own blocked on the broker.
        """
        if not self._probe_lock.acquire(blocking=False):
            last = self._probe
            return (last[1], last[2]) if last else (False, "the first probe is still running")
        try:
            if self._probe is None or self.clock() - self._probe[0] >= self.probe_cache_s:
                self._probe = (self.clock(), *self._probe_now())
            return self._probe[1], self._probe[2]
        finally:
            self._probe_lock.release()

    def _probe_now(self) -> tuple[bool, str]:
        """Whether the broker answers a metadata request now and knows the topic."""
        partitions, why = self._partitions()
        return partitions is not None, why

    def _partitions(self) -> tuple[int | None, str]:
        """The topic's partitions as the broker tells now (None when it cannot), and why.

        A fresh admin client each time: one kept across a broker restart stays broken for a
        while, and a probe must tell about now.
        """
        timeout_ms = int(self.timeout_s * 1000)
        admin = None
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                request_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
            )
            (topic,) = admin.describe_topics([self.topic])
        except Exception as error:  # whatever failed, the broker is not usable now
            return None, f"Kafka at {self.bootstrap} does not answer: {error!r}"
        finally:
            if admin is not None:
                admin.close()
        if topic["error_code"] != 0 or not topic["partitions"]:
            return None, f"topic {self.topic!r} not found"
        count = len(topic["partitions"])
        return count, f"topic {self.topic!r} has {count} partitions"

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is still buffered, then disconnect."""
        with self._lock:
            producers = [p for p in self._producers.values() if p is not None]
            self._producers = {ONE: None, MANY: None}
        for producer in producers:
            producer.flush(timeout=timeout_s)
            producer.close(timeout=timeout_s)
