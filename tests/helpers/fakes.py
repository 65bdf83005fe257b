"""Stand-ins for services, for unit tests."""

from __future__ import annotations

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
