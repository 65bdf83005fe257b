import pytest

from tests.helpers.events import SEED_TEXTS


@pytest.mark.parametrize("route,text", SEED_TEXTS.items())
def test_seed_route_answers_the_seed_text_after_publishing_one_event(
    client, publisher, route, text
):
    response = client.get(route, query_string={"player_id": "p1"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == text
    assert len(publisher.published) == 1
    assert publisher.published[0]["player_id"] == "p1"


def test_purchase_a_sword_logs_a_purchase_envelope(client, publisher):
    client.get("/purchase_a_sword", headers={"X-Player-Id": "p7", "User-Agent": "phone"})
    event = publisher.published[0]
    assert event["event_type"] == "purchase"
    assert event["properties"] == {"item": "sword", "price": 100, "currency": "gold", "quantity": 1}
    assert event["context"]["user_agent"] == "phone"
    assert event["context"]["api_version"] == "seed"
    assert event["received_at"].endswith("Z")
    assert len(event["event_id"]) == 36


def test_seed_route_without_a_player_logs_an_anonymous_player(client, publisher):
    client.get("/")
    assert publisher.published[0]["player_id"] == "anonymous"
    assert publisher.published[0]["event_type"] == "default"


def test_join_a_guild_takes_the_guild_from_the_query(client, publisher):
    client.get("/join_a_guild", query_string={"player_id": "p1", "guild_id": "wolves"})
    assert publisher.published[0]["properties"] == {"guild_id": "wolves"}


def test_seed_route_answers_503_with_retry_after_when_kafka_is_down(client, publisher):
    publisher.available = False
    response = client.get("/purchase_a_sword")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert publisher.published == []
