"""Publishing events to Kafka, with success claimed only once the broker acknowledged them."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

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


class KafkaPublisher:
    """Sends events with acks=all and idempotence; connects on first use, not at start."""

    def __init__(self, *, bootstrap: str, topic: str, timeout_s: float, max_in_flight: int):
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self.max_in_flight = max_in_flight
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()
        self._in_flight = 0

    def _connect(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self.timeout_s * 1000)
                try:
                    self._producer = KafkaProducer(
                        bootstrap_servers=self.bootstrap,
                        acks="all",
                        enable_idempotence=True,
                        linger_ms=2,
                        # Never block a request thread longer than the request may take.
                        max_block_ms=timeout_ms,
                        bootstrap_timeout_ms=timeout_ms,
                        request_timeout_ms=max(timeout_ms, 1000),
                        # Unacknowledged events expire soon after their request gave up.
                        delivery_timeout_ms=3 * max(timeout_ms, 1000),
                        allow_auto_create_topics=False,
                    )
                except KafkaError as error:
                    raise PublishError(
                        f"cannot reach Kafka at {self.bootstrap}: {error}"
                    ) from error
            return self._producer

    def _reserve(self, count: int) -> None:
        with self._lock:
            if self._in_flight + count > self.max_in_flight:
                raise PublishError(f"{self._in_flight} events already wait for Kafka")
            self._in_flight += count
            metrics.EVENTS_IN_FLIGHT.inc(count)

    def _release(self, count: int) -> None:
        with self._lock:
            self._in_flight -= count
            metrics.EVENTS_IN_FLIGHT.dec(count)

    def publish(self, events: list[dict]) -> list[Delivery]:
        """Send `events` and wait for every acknowledgement, or raise PublishError in time."""
        producer = self._connect()
        deadline = time.monotonic() + self.timeout_s
        self._reserve(len(events))
        started = time.perf_counter()
        sent = 0
        try:
            futures = []
            for event in events:
                key, value = to_kafka(event)
                future = producer.send(self.topic, value, key=key)
                sent += 1
                # Released on the broker's answer or the producer's own expiry, so the
                # bound holds for what the producer buffers, not only for what we wait on.
                future.add_both(lambda _: self._release(1))
                futures.append((event["event_id"], future))
            deliveries = []
            for event_id, future in futures:
                metadata = future.get(timeout=max(deadline - time.monotonic(), 0.001))
                deliveries.append(Delivery(event_id, metadata.partition, metadata.offset))
        except KafkaError as error:
            self._release(len(events) - sent)
            self._abandon(producer)
            log.warning(
                "publish failed",
                extra={"topic": self.topic, "events": len(events), "error": repr(error)},
            )
            raise PublishError(f"Kafka did not acknowledge in {self.timeout_s:g} s") from error
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        return deliveries

    def _abandon(self, producer: KafkaProducer) -> None:
        """Drop a producer that missed a deadline, with every event it still holds.

        Those events were answered 503, so the clients send them again; were the producer
        kept, it would deliver them too when the broker returns, and the topic would hold
        them twice. The next request connects afresh.
        """
        with self._lock:
            if self._producer is producer:
                self._producer = None
        try:
            producer.close(timeout=0)
        except KafkaError:
            # close() stops at its flush when batches are pending; abort them instead.
            producer._sender.force_close()

    def ready(self) -> tuple[bool, str]:
        """Whether the broker answers a metadata request now and knows the topic.

        A fresh admin client per probe: one kept across a broker restart stays broken for a
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
            return False, f"Kafka at {self.bootstrap} does not answer: {error!r}"
        finally:
            if admin is not None:
                admin.close()
        if topic["error_code"] != 0 or not topic["partitions"]:
            return False, f"topic {self.topic!r} not found"
        return True, f"topic {self.topic!r} has {len(topic['partitions'])} partitions"

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is still buffered, then disconnect."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(timeout=timeout_s)
            producer.close(timeout=timeout_s)
