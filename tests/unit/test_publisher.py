import pytest
from kafka.errors import KafkaTimeoutError
from kafka.future import Future

from ingest.publisher import KafkaPublisher, PublishError


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


def publisher_with(producer, max_in_flight=10, timeout_s=0.2):
    publisher = KafkaPublisher(
        bootstrap="unused:9092", topic="events", timeout_s=timeout_s, max_in_flight=max_in_flight
    )
    publisher._producer = producer
    return publisher


def event(i):
    return {"event_id": f"e{i}", "player_id": f"p{i}", "event_type": "default"}


def test_events_are_sent_keyed_by_player_and_acknowledged():
    producer = FakeProducer()
    deliveries = publisher_with(producer).publish([event(1), event(2)])
    assert [d.event_id for d in deliveries] == ["e1", "e2"]
    assert [key for _, key, _ in producer.sent] == [b"p1", b"p2"]


def test_more_events_than_the_in_flight_bound_are_refused_before_sending():
    producer = FakeProducer()
    with pytest.raises(PublishError):
        publisher_with(producer, max_in_flight=4).publish([event(i) for i in range(5)])
    assert producer.sent == []


def test_a_missed_deadline_drops_the_producer_and_frees_its_events():
    producer = FakeProducer(stalled=True)
    publisher = publisher_with(producer, max_in_flight=3)
    with pytest.raises(PublishError):
        publisher.publish([event(1), event(2), event(3)])
    assert producer.closed
    assert publisher._in_flight == 0
    assert publisher._producer is None
