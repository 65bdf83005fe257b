import pytest

from ingest.publisher import MANY, ONE, KafkaPublisher, PublishError
from tests.helpers.fakes import FakeProducer


def publisher_with(producer, max_in_flight=10, timeout_s=0.2):
    publisher = KafkaPublisher(
        bootstrap="unused:9092", topic="events", timeout_s=timeout_s, max_in_flight=max_in_flight
    )
    publisher._producers = {ONE: producer, MANY: producer}
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
    assert publisher._producers[MANY] is None


def test_acknowledged_events_free_their_place_in_the_in_flight_bound():
    publisher = publisher_with(FakeProducer(), max_in_flight=3)
    for round_ in range(3):
        publisher.publish([event(3 * round_ + i) for i in range(3)])
        assert publisher.in_flight == 0


def test_the_producers_batch_for_the_configured_linger_and_keep_no_sensors(monkeypatch):
    made = {}
    monkeypatch.setattr("ingest.publisher.KafkaProducer", lambda **config: made.update(config))
    publisher = KafkaPublisher(
        bootstrap="b:9092",
        topic="events",
        timeout_s=2.0,
        max_in_flight=10,
        linger_ms=7,
        single_batch_bytes=3000,
    )
    publisher._new_producer(ONE)
    assert made["linger_ms"] == 7 and made["batch_size"] == 3000
    assert made["metrics_enabled"] is False
    assert made["acks"] == "all" and made["enable_idempotence"] is True
    publisher._new_producer(MANY)
    assert made["linger_ms"] == 7 and made["batch_size"] == 16384


@pytest.mark.parametrize(
    ("threads", "partitions", "batch_bytes"),
    [(16, 3, 2000), (16, 1, 6400), (16, 8, 800), (16, 9, 16384), (16, 32, 16384), (64, 1, 16384)],
)
def test_one_event_batches_close_at_a_partitions_share_of_the_threads(
    monkeypatch, threads, partitions, batch_bytes
):
    publisher = KafkaPublisher(
        bootstrap="b:9092", topic="events", timeout_s=2.0, max_in_flight=10, threads=threads
    )
    monkeypatch.setattr(publisher, "_partitions", lambda: (partitions, "told"))
    assert publisher._batch_bytes(ONE) == batch_bytes
    assert publisher._batch_bytes(MANY) == 16384


def test_a_topic_the_broker_does_not_know_fails_the_connection_with_its_reason(monkeypatch):
    publisher = publisher_with(None)
    publisher._producers = {ONE: None, MANY: FakeProducer()}
    monkeypatch.setattr(publisher, "_partitions", lambda: (None, "topic 'events' not found"))
    with pytest.raises(PublishError, match="topic 'events' not found"):
        publisher.publish([event(1)])
    monkeypatch.setattr(publisher, "_partitions", lambda: pytest.fail("asked again at once"))
    with pytest.raises(PublishError, match="not found"):  # remembered for a second
        publisher.publish([event(2)])
    # The producer of several-event requests is connected and keeps sending.
    assert len(publisher.publish([event(3), event(4)])) == 2


def test_one_event_goes_through_the_small_batches_several_through_kafkas():
    one, many = FakeProducer(), FakeProducer()
    publisher = publisher_with(None)
    publisher._producers = {ONE: one, MANY: many}
    publisher.publish([event(1)])
    publisher.publish([event(2), event(3)])
    assert [key for _, key, _ in one.sent] == [b"p1"]
    assert [key for _, key, _ in many.sent] == [b"p2", b"p3"]


def test_a_missed_deadline_drops_only_the_producer_that_missed_it():
    one, many = FakeProducer(), FakeProducer(stalled=True)
    publisher = publisher_with(None)
    publisher._producers = {ONE: one, MANY: many}
    with pytest.raises(PublishError):
        publisher.publish([event(1), event(2)])
    assert publisher._producers == {ONE: one, MANY: None}
    assert not one.closed


def test_the_producer_finds_a_new_leader_soon_after_a_broker_dies(monkeypatch):
    made = {}
    monkeypatch.setattr("ingest.publisher.KafkaProducer", lambda **config: made.update(config))
    KafkaPublisher(
        bootstrap="b:9092", topic="events", timeout_s=2.0, max_in_flight=10
    )._new_producer(MANY)
    # Metadata is asked for again within a tenth of the request's deadline of a failed send.
    assert made["retry_backoff_ms"] <= 200
    assert made["reconnect_backoff_max_ms"] <= 1000
