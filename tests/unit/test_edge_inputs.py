"""Every input gets a 2xx or a clear 4xx, never a 5xx, and the in-flight count returns to zero.

The app runs with the real KafkaPublisher over a producer that acknowledges at once, so the
encoding and the in-flight bookkeeping are the ones the service uses.
"""

from __future__ import annotations

import gzip
import json
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import create_app
from ingest.publisher import KafkaPublisher
from ingest.settings import IngestSettings
from tests.helpers.fakes import FakeProducer

CLEAR_ANSWERS = {202, 400, 405, 413, 415, 429}
VALID = {
    "event_type": "purchase",
    "player_id": "p1",
    "properties": {"item": "sword", "price": 100, "currency": "gold", "quantity": 1},
}


@pytest.fixture(scope="module")
def edge():
    """The app, its publisher and the producer behind it (one for the module: hypothesis)."""
    producer = FakeProducer()
    publisher = KafkaPublisher(
        bootstrap="unused:9092", topic="events", timeout_s=0.5, max_in_flight=1000
    )
    publisher._producers = dict.fromkeys(publisher._producers, producer)
    settings_ = IngestSettings(player_rate_per_s=1e9, player_burst=10**9, key_burst=10**9)
    app = create_app({"SETTINGS": settings_, "PUBLISHER": publisher})
    return app.test_client(), publisher, producer


def post(client, body: bytes, headers=None):
    return client.post(
        "/v1/events", data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


def check_answer(edge, response) -> None:
    client, publisher, producer = edge
    assert response.status_code in CLEAR_ANSWERS, response.get_data()[:300]
    assert response.is_json
    assert publisher.in_flight == 0
    for _, _, value in producer.sent:
        orjson.loads(value)  # what went to Kafka is strict JSON
    producer.sent.clear()


# JSON values as a hostile client writes them: every code point (lone surrogates too), NaN,
# infinities, integers of any size, nested arrays and objects.
any_text = st.text(st.characters(exclude_categories=()), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def mutated_events():
    """A valid purchase with one field, or one property, replaced by anything."""
    top = st.sampled_from(
        ["event_id", "event_type", "schema_version", "player_id", "session_id", "client_ts"]
    )
    prop = st.sampled_from(["item", "price", "currency", "quantity", "extra"])
    return st.one_of(
        st.tuples(top, json_values).map(lambda kv: {**VALID, kv[0]: kv[1]}),
        st.tuples(prop, json_values).map(
            lambda kv: {**VALID, "properties": {**VALID["properties"], kv[0]: kv[1]}}
        ),
    )


def encodings(value):
    """The ways a client may put a value on the wire, lone surrogates and NaN included."""
    return st.sampled_from(
        [
            json.dumps(value).encode(),  # \\ud800 escapes, NaN and Infinity tokens
            json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        ]
    )


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_get_a_clear_answer(edge, body):
    check_answer(edge, post(edge[0], body))


@PROPERTY_SETTINGS
@given(json_values.flatmap(encodings))
def test_arbitrary_json_gets_a_clear_answer(edge, body):
    check_answer(edge, post(edge[0], body))


@PROPERTY_SETTINGS
@given(st.lists(mutated_events(), min_size=1, max_size=3).flatmap(encodings))
def test_events_with_any_field_replaced_get_a_clear_answer(edge, body):
    check_answer(edge, post(edge[0], body))


@PROPERTY_SETTINGS
@given(st.integers(min_value=1, max_value=5000), st.sampled_from("[{"))
def test_any_nesting_depth_gets_a_clear_answer(edge, depth, opener):
    inner = b'{"a":' * depth + b"1" + b"}" * depth if opener == "{" else None
    body = inner or b"[" * depth + b"]" * depth
    properties = b'{"event_type":"purchase","player_id":"p","properties":{"item":' + body + b"}}"
    check_answer(edge, post(edge[0], body))
    check_answer(edge, post(edge[0], properties))


@PROPERTY_SETTINGS
@given(st.binary(max_size=200), st.binary(min_size=1, max_size=20))
def test_gzip_bodies_with_anything_after_them_get_a_clear_answer(edge, body, trailing):
    response = post(edge[0], gzip.compress(body) + trailing, {"Content-Encoding": "gzip"})
    check_answer(edge, response)
    assert response.status_code != 202


@pytest.mark.parametrize(
    "body,words",
    [
        (b'{"player_id": "' + b"9" * 5000 + b'"}', None),
        (b'{"event_type":"purchase","player_id":1' + b"0" * 5000 + b"}", None),
        (b"[" * 100_000 + b"]" * 100_000, "depth"),
        (b"[" * 20 + b"]" * 20, "deeper"),
        (b'{"event_type":"default","player_id":"\\ud800"}', "surrogate"),
        (b'{"event_type":"default","player_id":"\\udc00\\ud800"}', "surrogate"),
        (b'{"event_type":"default","player_id":"\xed\xa0\x80"}', "surrogate"),
    ],
)
def test_inputs_past_the_parsers_limits_are_400(edge, body, words):
    response = post(edge[0], body)
    check_answer(edge, response)
    assert response.status_code == 400
    if words:
        assert words in response.json["message"]


def purchase_with(**properties):
    return {**VALID, "properties": {**VALID["properties"], **properties}}


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(purchase_with(price=math.nan)),
        json.dumps(purchase_with(price=math.inf)),
        json.dumps(purchase_with(price=-math.inf)),
        json.dumps(purchase_with(price=1)).replace('"price": 1', '"price": 1e400'),
        json.dumps(purchase_with(price=1e308, quantity=10)),
        json.dumps(purchase_with(quantity=True)),
        json.dumps(purchase_with(quantity=2**64)),
    ],
)
def test_numbers_the_lake_cannot_count_are_400_and_nothing_is_sent(edge, raw):
    response = post(edge[0], raw.encode())
    assert response.status_code == 400
    assert edge[2].sent == []
    check_answer(edge, response)


@pytest.mark.parametrize(
    "event,field,stored",
    [
        (purchase_with(quantity=2.0), "quantity", 2),
        ({"event_type": "level_up", "player_id": "p", "properties": {"level": 3.0}}, "level", 3),
    ],
)
def test_an_integral_float_in_an_integer_field_is_stored_as_an_integer(edge, event, field, stored):
    response = post(edge[0], json.dumps({**event, "schema_version": 1.0}).encode())
    assert response.status_code == 202
    (sent,) = [orjson.loads(value) for _, _, value in edge[2].sent]
    assert sent["properties"][field] == stored and type(sent["properties"][field]) is int
    assert type(sent["schema_version"]) is int
    check_answer(edge, response)


def test_a_fractional_quantity_is_400(edge):
    response = post(edge[0], json.dumps(purchase_with(quantity=2.5)).encode())
    assert response.status_code == 400
    check_answer(edge, response)


def test_bytes_after_a_gzip_stream_are_400(edge):
    body = gzip.compress(json.dumps(VALID).encode()) + b"junk"
    response = post(edge[0], body, {"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "after the end" in response.json["message"]


def test_two_gzip_members_are_400(edge):
    one = gzip.compress(json.dumps(VALID).encode())
    assert post(edge[0], one + one, {"Content-Encoding": "gzip"}).status_code == 400


@pytest.mark.parametrize("route", ["/purchase_a_sword", "/", "/join_a_guild", "/healthz"])
@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT"])
def test_methods_a_route_does_not_document_are_405_and_log_nothing(edge, route, method):
    client, _, producer = edge
    response = client.open(route, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert producer.sent == []


def test_an_encoding_failure_inside_the_publisher_frees_its_reservation():
    producer = FakeProducer()
    publisher = KafkaPublisher(bootstrap="unused", topic="t", timeout_s=0.5, max_in_flight=10)
    publisher._producers = dict.fromkeys(publisher._producers, producer)
    from events.envelope import EncodeError

    with pytest.raises(EncodeError):
        publisher.publish([{"event_id": "e", "player_id": "\ud800", "event_type": "default"}])
    assert publisher.in_flight == 0
    assert producer.sent == []


@PROPERTY_SETTINGS
@given(st.binary(max_size=60), st.binary(max_size=60))
def test_seed_routes_with_any_query_bytes_get_a_clear_answer(edge, player_id, guild_id):
    client, publisher, producer = edge
    query = {"player_id": player_id, "guild_id": guild_id}
    response = client.get("/join_a_guild", query_string=query)
    assert response.status_code in {200, 400, 429}
    assert publisher.in_flight == 0
    for _, _, value in producer.sent:
        orjson.loads(value)
    producer.sent.clear()
