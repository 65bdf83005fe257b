"""Player tokens: a game client sends only its own player's events; a server key any player's."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ingest import create_app
from ingest.settings import IngestSettings

AUDIENCE, ISSUER = "build-a-nation-ingest", "https://auth.studio.example"
SERVER_KEY = "s" * 32


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def settings(signing_key, tmp_path) -> IngestSettings:
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "auth.pem").write_bytes(pem)
    return IngestSettings(
        env="production",
        api_keys=(f"{SERVER_KEY}=events:write:any",),
        seed_routes="key",
        ops_bind="127.0.0.1:5001",
        player_token_public_key_file=str(tmp_path / "auth.pem"),
        player_token_audience=AUDIENCE,
        player_token_issuer=ISSUER,
    )


def token(key, player: str, **overrides) -> str:
    claims = {"sub": player, "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 300}
    claims |= overrides
    algorithm = claims.pop("alg", "RS256")
    return jwt.encode(claims, key, algorithm=algorithm, headers=claims.pop("headers", None))


def level_up(player: str) -> dict:
    return {"event_type": "level_up", "player_id": player, "properties": {"level": 2}}


def post(client, body, credential: str):
    return client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {credential}"})


@pytest.fixture
def client(settings, publisher):
    return create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()


def test_a_player_token_sends_its_own_players_events(client, signing_key, publisher):
    response = post(client, [level_up("ana"), level_up("ana")], token(signing_key, "ana"))
    assert response.status_code == 202
    assert [event["player_id"] for event in publisher.published] == ["ana", "ana"]


def test_another_players_event_is_refused_with_403_and_nothing_is_published(
    client, signing_key, publisher
):
    response = post(client, [level_up("ana"), level_up("bo")], token(signing_key, "ana"))
    assert response.status_code == 403
    assert "event 1 is for player 'bo'" in response.json["message"]
    assert publisher.published == []


@pytest.mark.parametrize(
    "case",
    ["expired", "wrongly signed", "wrong audience", "wrong issuer", "alg none", "no expiry"],
)
def test_a_token_that_is_not_valid_is_refused_with_401(case, client, signing_key, publisher):
    other_key = ec.generate_private_key(ec.SECP256R1())
    credential = {
        "expired": lambda: token(signing_key, "ana", exp=int(time.time()) - 10),
        "wrongly signed": lambda: token(other_key, "ana", alg="ES256"),
        "wrong audience": lambda: token(signing_key, "ana", aud="another-service"),
        "wrong issuer": lambda: token(signing_key, "ana", iss="https://elsewhere.example"),
        "alg none": lambda: token(None, "ana", alg="none"),
        "no expiry": lambda: jwt.encode(
            {"sub": "ana", "aud": AUDIENCE, "iss": ISSUER}, signing_key, algorithm="RS256"
        ),
    }[case]()
    response = post(client, level_up("ana"), credential)
    assert response.status_code == 401, case
    assert "player token is not valid" in response.json["message"]
    assert publisher.published == []


def test_a_server_key_sends_for_many_players(client, publisher):
    batch = [level_up(player) for player in ("ana", "bo", "cy")]
    assert post(client, batch, SERVER_KEY).status_code == 202
    assert {event["player_id"] for event in publisher.published} == {"ana", "bo", "cy"}


def test_on_the_seed_routes_the_token_names_the_player(client, signing_key, publisher):
    headers = {"Authorization": f"Bearer {token(signing_key, 'ana')}"}
    assert client.get("/purchase_a_sword", headers=headers).status_code == 200
    assert client.get("/purchase_a_sword?player_id=ana", headers=headers).status_code == 200
    assert client.get("/purchase_a_sword?player_id=bo", headers=headers).status_code == 403
    assert [event["player_id"] for event in publisher.published] == ["ana", "ana"]


def test_tokens_are_verified_with_the_keys_of_a_jwks_file(settings, publisher, tmp_path):
    signing = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(signing.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "2026-12"}]}))
    settings = replace(
        settings,
        player_token_public_key_file="",
        player_token_jwks_file=str(tmp_path / "jwks.json"),
    )
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    signed = token(signing, "ana", alg="ES256", headers={"kid": "2026-12"})
    assert post(client, level_up("ana"), signed).status_code == 202
    unknown_kid = token(signing, "ana", alg="ES256", headers={"kid": "2025-01"})
    assert post(client, level_up("ana"), unknown_kid).status_code == 401


def test_production_refuses_client_keys_unless_allowed_for_a_migration(settings, publisher, capsys):
    client_keys = replace(settings, api_keys=(f"{'c' * 32}=events:write",))
    with pytest.raises(ValueError, match="QUESTLOG_ALLOW_UNBOUND_CLIENT_KEYS"):
        create_app({"SETTINGS": client_keys, "PUBLISHER": publisher})
    migrating = replace(client_keys, allow_unbound_client_keys=True)
    create_app({"SETTINGS": migrating, "PUBLISHER": publisher})
    # Logged at start, as a JSON line on stderr.
    assert "QUESTLOG_ALLOW_UNBOUND_CLIENT_KEYS" in capsys.readouterr().err


def test_token_settings_need_an_audience_and_an_issuer_and_public_key_algorithms(settings):
    with pytest.raises(ValueError, match="AUDIENCE"):
        replace(settings, player_token_audience="").check()
    with pytest.raises(ValueError, match="public-key algorithms"):
        replace(settings, player_token_algorithms=("HS256",)).check()


def test_each_tokens_player_has_its_own_rate_limit(settings, signing_key, publisher):
    limited = replace(settings, key_rate_per_s=0.001, key_burst=3)
    client = create_app({"SETTINGS": limited, "PUBLISHER": publisher}).test_client()
    ana, bo = token(signing_key, "ana"), token(signing_key, "bo")
    assert [post(client, level_up("ana"), ana).status_code for _ in range(4)] == [202] * 3 + [429]
    assert post(client, level_up("bo"), bo).status_code == 202
