"""Rate limits per client, not per shared key: a player token's player, a server's key, a
client key's client address; X-Forwarded-For counts only from trusted proxies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest import create_app
from ingest.settings import IngestSettings

CLIENT_KEY, SERVER_KEY = "c" * 32, "s" * 32
# Production during a migration: every copy of the game shares one client key.
SHARED_KEY = IngestSettings(
    env="production",
    api_keys=(f"{CLIENT_KEY}=events:write", f"{SERVER_KEY}=events:write:any"),
    allow_unbound_client_keys=True,
    seed_routes="off",
    ops_bind="127.0.0.1:5001",
    key_rate_per_s=0.001,
    key_burst=10,
    player_rate_per_s=1000,
    player_burst=1000,
)


def statuses(client, count: int, key: str, address: str, forwarded: str | None = None):
    """`count` single events from `address` (the TCP peer), each for a player of its own."""
    headers = {"Authorization": f"Bearer {key}"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    event = {"event_type": "default"}
    return [
        client.post(
            "/v1/events",
            json={**event, "player_id": f"{address}-{n}"},
            headers=headers,
            environ_base={"REMOTE_ADDR": address},
        ).status_code
        for n in range(count)
    ]


def test_a_client_flooding_a_shared_key_does_not_starve_another_client(publisher):
    client = create_app({"SETTINGS": SHARED_KEY, "PUBLISHER": publisher}).test_client()
    flood = statuses(client, 30, CLIENT_KEY, "198.51.100.1")
    assert flood[:10] == [202] * 10 and set(flood[10:]) == {429}
    assert statuses(client, 10, CLIENT_KEY, "198.51.100.2") == [202] * 10


def test_a_server_key_is_limited_as_itself_and_not_by_its_address(publisher):
    settings = replace(SHARED_KEY, address_rate_per_s=0.001, address_burst=5)
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    assert statuses(client, 10, SERVER_KEY, "192.0.2.1") == [202] * 10
    assert statuses(client, 1, SERVER_KEY, "192.0.2.1") == [429]  # its own bucket, spent
    # Client keys from one address share the address's bucket.
    assert statuses(client, 6, CLIENT_KEY, "192.0.2.9") == [202] * 5 + [429]


def test_x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(publisher):
    settings = replace(SHARED_KEY, trusted_proxies=("10.0.0.0/8",))
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    # Behind the proxy, each client is limited as itself.
    via_proxy = statuses(client, 11, CLIENT_KEY, "10.0.0.5", forwarded="203.0.113.7")
    assert via_proxy == [202] * 10 + [429]
    assert statuses(client, 3, CLIENT_KEY, "10.0.0.5", forwarded="203.0.113.8") == [202] * 3
    # A client that is not a proxy cannot pick another client's bucket (or a fresh one).
    forged = statuses(client, 11, CLIENT_KEY, "198.51.100.1", forwarded="203.0.113.9")
    assert forged == [202] * 10 + [429]
    assert statuses(client, 1, CLIENT_KEY, "198.51.100.1", forwarded="203.0.113.10") == [429]
    # The client's own claim left of the proxy's entry is not believed.
    chain = "203.0.113.7, 203.0.113.11"
    assert statuses(client, 1, CLIENT_KEY, "10.0.0.5", forwarded=chain) == [202]


def test_a_trusted_proxy_that_is_no_address_refuses_to_start(publisher):
    settings = replace(SHARED_KEY, trusted_proxies=("10.0.0.0/8", "the-load-balancer"))
    with pytest.raises(ValueError, match="QUESTLOG_TRUSTED_PROXIES"):
        create_app({"SETTINGS": settings, "PUBLISHER": publisher})
