import gzip
import json
import uuid
from dataclasses import replace

import pytest

from ingest import create_app


def purchase(player_id="p1", **overrides):
    event = {
        "event_type": "purchase",
        "player_id": player_id,
        "properties": {"item": "sword", "price": 100, "currency": "gold", "quantity": 1},
    }
    event.update(overrides)
    return event


def post(client, body, headers=None, raw=None):
    data = raw if raw is not None else json.dumps(body)
    return client.post(
        "/v1/events", data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )


def test_one_event_is_accepted_with_its_new_event_id(client, publisher):
    response = post(client, purchase())
    assert response.status_code == 202
    (event_id,) = response.json["event_ids"]
    assert uuid.UUID(event_id).version == 7
    assert publisher.published[0]["event_id"] == event_id


def test_a_client_event_id_is_kept_for_safe_retries(client, publisher):
    given = str(uuid.uuid4())
    response = post(client, purchase(event_id=given))
    assert response.json["event_ids"] == [given]


def test_a_batch_is_accepted_in_order(client, publisher):
    batch = [purchase(f"p{i}") for i in range(50)]
    response = post(client, batch)
    assert response.status_code == 202
    assert response.json["accepted"] == 50
    assert [e["player_id"] for e in publisher.published] == [f"p{i}" for i in range(50)]


def test_a_gzip_body_is_accepted(client, publisher):
    body = gzip.compress(json.dumps([purchase(), purchase("p2")]).encode())
    response = post(client, None, {"Content-Encoding": "gzip"}, raw=body)
    assert response.status_code == 202
    assert len(publisher.published) == 2


def test_a_gzip_bomb_is_refused_413_without_inflating_it(client, publisher):
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")
    assert len(bomb) < 100_000
    response = post(client, None, {"Content-Encoding": "gzip"}, raw=bomb)
    assert response.status_code == 413
    assert publisher.published == []


def test_a_truncated_gzip_body_is_refused_400(client):
    body = gzip.compress(json.dumps(purchase()).encode())[:-10]
    assert post(client, None, {"Content-Encoding": "gzip"}, raw=body).status_code == 400


def test_an_unknown_content_encoding_is_refused_415(client):
    assert post(client, purchase(), {"Content-Encoding": "br"}).status_code == 415


def test_a_body_over_the_byte_limit_is_refused_413(publisher):
    app = create_app({"SETTINGS": replace_settings(max_body_bytes=1000), "PUBLISHER": publisher})
    response = post(app.test_client(), [purchase() for _ in range(20)])
    assert response.status_code == 413
    assert publisher.published == []


def test_a_batch_over_the_event_limit_is_refused_413(publisher):
    app = create_app({"SETTINGS": replace_settings(max_batch_events=10), "PUBLISHER": publisher})
    response = post(app.test_client(), [purchase() for _ in range(11)])
    assert response.status_code == 413
    assert "at most 10" in response.json["message"]


def test_a_wrong_content_type_is_refused_415(client):
    response = client.post("/v1/events", data="x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_a_body_that_is_not_json_is_refused_400(client):
    response = post(client, None, raw="{not json")
    assert response.status_code == 400
    assert "not JSON" in response.json["message"]


def test_a_body_that_is_not_utf8_is_refused_400(client):
    response = post(client, None, raw=b'{"player_id": "\xff\xfe"}')
    assert response.status_code == 400
    assert "UTF-8" in response.json["message"]


def test_an_empty_batch_is_refused_400(client):
    assert post(client, []).status_code == 400


@pytest.mark.parametrize(
    "event,field,words",
    [
        (purchase(event_type="buy_castle"), "event_type", "unknown event type"),
        (purchase(event_type={}), "event_type", "unknown event type"),
        (purchase(event_type=["purchase"]), "event_type", "unknown event type"),
        ({"event_type": "purchase"}, "(event)", "'player_id' is a required property"),
        (
            purchase(properties={"item": "sword", "price": -1, "currency": "gold", "quantity": 1}),
            "properties.price",
            "less than the minimum",
        ),
        (
            purchase(properties={"item": "sword", "price": "1", "currency": "gold", "quantity": 1}),
            "properties.price",
            "is not of type 'number'",
        ),
        (
            purchase(properties={"item": "sword", "currency": "gold", "quantity": 1}),
            "properties",
            "'price' is a required property",
        ),
        (purchase(client_ts="yesterday"), "client_ts", "is not a 'date-time'"),
        (purchase(player_id="p" * 500), "player_id", "is too long"),
        (purchase(mood="happy"), "(event)", "Additional properties are not allowed"),
        (purchase(context={"host": "evil"}), "(event)", "Additional properties are not allowed"),
        (purchase(schema_version=9), "schema_version", "is not one of"),
        (purchase(event_id="not-a-uuid"), "event_id", "is not a 'uuid'"),
        (["just a string"], "(event)", "must be a JSON object"),
    ],
)
def test_an_invalid_event_is_refused_400_naming_field_and_reason(client, event, field, words):
    response = post(client, event)
    assert response.status_code == 400
    problem = response.json["problems"][0]
    assert problem["index"] == 0
    assert problem["field"] == field
    assert words in problem["reason"]


def test_a_batch_with_one_invalid_event_is_rejected_whole(client, publisher):
    batch = [purchase("p1"), purchase("p2", event_type="nope"), purchase("p3")]
    response = post(client, batch)
    assert response.status_code == 400
    assert [p["index"] for p in response.json["problems"]] == [1]
    assert "rejected whole" in response.json["message"]
    assert publisher.published == []


def test_headers_land_in_context_and_never_in_properties(client, publisher):
    post(client, purchase(), {"User-Agent": "item=axe", "X-Forwarded-Host": "x"})
    event = publisher.published[0]
    assert event["properties"]["item"] == "sword"
    assert event["context"]["user_agent"] == "item=axe"
    assert set(event["context"]) == {"host", "user_agent", "remote_addr", "api_version"}


def test_kafka_down_answers_503_with_retry_after(client, publisher):
    publisher.available = False
    response = post(client, purchase())
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert "same event_id" in response.json["message"]


def replace_settings(**changes):
    from ingest.settings import IngestSettings

    return replace(IngestSettings(), **changes)


@pytest.fixture
def keyed_client(publisher):
    settings = replace_settings(api_keys=("k-one", "k-two"))
    return create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()


def test_with_keys_configured_a_write_without_a_key_gets_401(keyed_client, publisher):
    response = post(keyed_client, purchase())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert publisher.published == []


def test_with_keys_configured_a_wrong_key_gets_401(keyed_client):
    assert post(keyed_client, purchase(), {"Authorization": "Bearer k-three"}).status_code == 401


def test_with_keys_configured_a_valid_key_is_accepted(keyed_client):
    assert post(keyed_client, purchase(), {"Authorization": "Bearer k-two"}).status_code == 202


def test_seed_routes_stay_open_by_default_even_with_keys(keyed_client):
    assert keyed_client.get("/purchase_a_sword").status_code == 200


def test_seed_routes_can_require_a_key(publisher):
    settings = replace_settings(api_keys=("k",), seed_routes="key")
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    assert client.get("/purchase_a_sword").status_code == 401
    ok = client.get("/purchase_a_sword", headers={"Authorization": "Bearer k"})
    assert ok.status_code == 200


def test_seed_routes_can_be_turned_off(publisher):
    settings = replace_settings(seed_routes="off")
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    assert client.get("/purchase_a_sword").status_code == 404
    assert publisher.published == []


def test_a_player_over_the_rate_limit_gets_429_with_retry_after(publisher):
    settings = replace_settings(player_rate_per_s=0.001, player_burst=3)
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    assert post(client, [purchase("p1")] * 3).status_code == 202
    response = post(client, purchase("p1"))
    assert response.status_code == 429
    # One token short at 0.001 tokens/s: about 1000 s until the next request may pass.
    assert 990 <= int(response.headers["Retry-After"]) <= 1001
    assert post(client, purchase("p2")).status_code == 202


def test_a_key_over_the_rate_limit_gets_429(publisher):
    settings = replace_settings(api_keys=("k",), key_rate_per_s=0.001, key_burst=2)
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    auth = {"Authorization": "Bearer k"}
    assert post(client, [purchase("a"), purchase("b")], auth).status_code == 202
    assert post(client, purchase("c"), auth).status_code == 429
