"""Stand-ins for services, for unit tests."""

from __future__ import annotations

from kafka.errors import KafkaTimeoutError
from kafka.future import Future

from ingest.publisher import Delivery, PublishError


class FakePublisher:
    """Records what would go to Kafka; `available=False` acts as a broker that is down."""

    def __init__(self):
        self.published: list[dict] = []
        self.available = True

    def publish(self, events: list[dict]) -> list[Delivery]:
        if not self.available:
            raise PublishError("Kafka did not acknowledge in 2 s")
        start = len(self.published)
        self.published.extend(events)
        return [Delivery(e["event_id"], 0, start + i) for i, e in enumerate(events)]

    def ready(self) -> tuple[bool, str]:
        return self.available, "fake broker"

    def close(self, timeout_s: float = 0) -> None:
        pass


class Metadata:
    def __init__(self, offset):
        self.partition, self.offset = 0, offset


class RecordFuture(Future):
    """A send's future, as kafka-python's: get() raises when no answer came in time."""

    def get(self, timeout=None):
        if not self.is_done:
            raise KafkaTimeoutError(f"no acknowledgement in {timeout} s")
        if self.exception:
            raise self.exception
        return self.value


class FakeProducer:
    """Answers each send at once, or never when `stalled` (a broker that does not ack)."""

    def __init__(self, stalled=False):
        self.stalled = stalled
        self.sent = []
        self.pending = []
        self.closed = False

    def send(self, topic, value, key=None):
        future = RecordFuture()
        self.sent.append((topic, key, value))
        if self.stalled:
            self.pending.append(future)
        else:
            future.success(Metadata(len(self.sent) - 1))
        return future

    def close(self, timeout=None):
        self.closed = True
        for future in self.pending:
            future.failure(KafkaTimeoutError("aborted"))
