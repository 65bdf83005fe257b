"""Production refuses to run open; keys carry scopes; probes cannot tie up threads."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import replace

import pytest

from ingest import create_app
from ingest.guard import parse_api_keys
from ingest.publisher import KafkaPublisher, PublishError
from ingest.settings import IngestSettings
from lake.settings import REPO_ROOT

# Keys long enough for production, as `secrets.token_urlsafe(24)` draws them.
WRITER, READER, NEXT_WRITER = "w" * 32, "r" * 32, "n" * 32
PRODUCTION = IngestSettings(
    env="production",
    api_keys=(f"{WRITER}=events:write:any",),
    seed_routes="key",
    ops_bind="127.0.0.1:5001",
)


def test_production_without_api_keys_refuses_to_start(publisher):
    with pytest.raises(ValueError, match="QUESTLOG_API_KEYS"):
        create_app({"SETTINGS": replace(PRODUCTION, api_keys=()), "PUBLISHER": publisher})


def test_production_with_open_seed_routes_refuses_to_start(publisher):
    with pytest.raises(ValueError, match="SEED_ROUTES"):
        create_app({"SETTINGS": replace(PRODUCTION, seed_routes="open"), "PUBLISHER": publisher})


def test_production_reads_from_the_environment():
    with pytest.raises(ValueError, match="QUESTLOG_API_KEYS"):
        IngestSettings.from_env({"QUESTLOG_ENV": "production"})
    with pytest.raises(ValueError, match="SEED_ROUTES"):
        IngestSettings.from_env(
            {"QUESTLOG_ENV": "production", "QUESTLOG_API_KEYS": f"{WRITER}=events:write:any"}
        )
    keyed = IngestSettings.from_env(
        {
            "QUESTLOG_ENV": "production",
            "QUESTLOG_API_KEYS": f"{WRITER}=events:write:any,{READER}=players:read",
            "QUESTLOG_SEED_ROUTES": "off",
            "QUESTLOG_OPS_BIND": "127.0.0.1:5001",
        }
    )
    assert keyed.api_keys == (f"{WRITER}=events:write:any", f"{READER}=players:read")


def test_production_refuses_a_short_key_naming_only_its_start():
    for short in ("k1", "game-k1", "x" * 31):
        with pytest.raises(ValueError, match="at least 32 characters") as refused:
            replace(
                PRODUCTION, api_keys=(f"{WRITER}=events:write:any", f"{short}=players:read")
            ).check()
    # Only a key's first four characters are named: the message goes to logs.
    assert "xxxx..." in str(refused.value) and "x" * 5 not in str(refused.value)
    # Development takes any key: the local stack's tests and demo.
    replace(PRODUCTION, env="development", api_keys=("k1",)).check()


def test_production_with_keys_serves_only_keyed_requests(publisher):
    settings = replace(
        PRODUCTION, api_keys=(f"{WRITER}=events:write:any", f"{READER}=players:read")
    )
    client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
    event = {"event_type": "default", "player_id": "p"}
    assert client.post("/v1/events", json=event).status_code == 401
    assert client.get("/purchase_a_sword").status_code == 401
    as_reader = client.post("/v1/events", json=event, headers=bearer(READER))
    assert as_reader.status_code == 403
    as_writer = client.post("/v1/events", json=event, headers=bearer(WRITER))
    assert as_writer.status_code == 202


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_is_rotated_by_listing_the_old_and_the_new_then_dropping_the_old(publisher):
    event = {"event_type": "default", "player_id": "p"}

    def answers(keys: tuple[str, ...]) -> list[int]:
        settings = replace(PRODUCTION, api_keys=keys)
        client = create_app({"SETTINGS": settings, "PUBLISHER": publisher}).test_client()
        return [
            client.post("/v1/events", json=event, headers=bearer(key)).status_code
            for key in (WRITER, NEXT_WRITER)
        ]

    old, new = f"{WRITER}=events:write:any", f"{NEXT_WRITER}=events:write:any"
    assert answers((old,)) == [202, 401]  # before
    assert answers((old, new)) == [202, 202]  # while clients move to the new key
    assert answers((new,)) == [401, 202]  # after


def test_api_keys_carry_their_scopes():
    keys = parse_api_keys(("plain", "reader=players:read", "both=events:write+players:read"))
    assert keys == {
        "plain": {"events:write"},
        "reader": {"players:read"},
        "both": {"events:write", "players:read"},
    }
    with pytest.raises(ValueError, match="scopes"):
        parse_api_keys(("k=admin",))


class CountingPublisher(KafkaPublisher):
    """A publisher whose broker probe and producer are stand-ins that count their calls."""

    def __init__(self, probe_s=0.0, connect_s=0.0, **kwargs):
        super().__init__(bootstrap="down:9", topic="events", max_in_flight=100, **kwargs)
        self.probes = 0
        self.connects = 0
        self.probe_s, self.connect_s = probe_s, connect_s

    def _probe_now(self):
        self.probes += 1
        time.sleep(self.probe_s)
        return False, "broker down"

    def _new_producer(self, kind):
        self.connects += 1
        time.sleep(self.connect_s)
        raise OSError("no broker answers")


def test_readiness_probes_are_reused_for_a_second():
    clock = [0.0]
    publisher = CountingPublisher(timeout_s=2.0, clock=lambda: clock[0])
    for _ in range(50):
        assert publisher.ready() == (False, "broker down")
    assert publisher.probes == 1
    clock[0] = 1.0
    publisher.ready()
    assert publisher.probes == 2


def test_concurrent_readiness_probes_run_one_broker_probe():
    publisher = CountingPublisher(probe_s=0.3, timeout_s=2.0)
    threads = [threading.Thread(target=publisher.ready) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert publisher.probes == 1


def test_with_the_broker_down_concurrent_requests_share_one_connection_attempt():
    publisher = CountingPublisher(connect_s=0.5, timeout_s=1.0)
    outcomes, started = [], time.monotonic()

    def send():
        try:
            publisher.publish([{"event_id": "e", "player_id": "p", "event_type": "default"}])
        except PublishError as error:
            outcomes.append((str(error), time.monotonic() - started))

    threads = [threading.Thread(target=send) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 64
    assert publisher.connects == 1
    assert max(seconds for _, seconds in outcomes) < 1.0 + 0.5  # one attempt, not 64 in turn
    assert publisher.in_flight == 0
    # Requests right after a failed attempt fail at once, without a new one.
    with pytest.raises(PublishError):
        publisher.publish([{"event_id": "e", "player_id": "p", "event_type": "default"}])
    assert publisher.connects == 1


def test_metrics_text_is_reused_within_the_probe_interval(client):
    first = client.get("/metrics").get_data()
    client.get("/healthz")
    assert client.get("/metrics").get_data() == first


def test_make_serve_refuses_to_start_without_api_keys():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    environ["QUESTLOG_INGEST_BIND"] = "127.0.0.1:0"
    result = subprocess.run(
        ["make", "--no-print-directory", "serve"],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "QUESTLOG_ENV=production needs QUESTLOG_API_KEYS" in result.stdout + result.stderr


def test_production_without_an_ops_port_refuses_to_start(publisher):
    with pytest.raises(ValueError, match="QUESTLOG_OPS_BIND"):
        create_app({"SETTINGS": replace(PRODUCTION, ops_bind=""), "PUBLISHER": publisher})


def on_port(port: int) -> str:
    """The base URL of a request that came in on `port`: SERVER_PORT is the listener's
    (gunicorn sets it from the socket, not from the Host header)."""
    return f"http://localhost:{port}"


def test_with_an_ops_port_metrics_openapi_and_readiness_detail_stay_off_the_public_port(
    publisher,
):
    client = create_app({"SETTINGS": PRODUCTION, "PUBLISHER": publisher}).test_client()
    public, ops = on_port(5000), on_port(5001)
    for path in ("/metrics", "/openapi.json"):
        assert client.get(path, base_url=public).status_code == 404, path
        assert client.get(path, base_url=ops).status_code == 200, path
    publisher.available = False
    ready_public = client.get("/readyz", base_url=public)
    ready_ops = client.get("/readyz", base_url=ops)
    assert (ready_public.status_code, ready_ops.status_code) == (503, 503)
    assert ready_public.json == {"status": "not ready"}  # no broker names, no error text
    assert "detail" in ready_ops.json
    assert client.get("/healthz", base_url=public).status_code == 200
    # The API answers on the public port only.
    event = {"event_type": "default", "player_id": "p"}
    publisher.available = True
    keyed = {"headers": bearer(WRITER), "json": event}
    assert client.post("/v1/events", base_url=public, **keyed).status_code == 202
    assert client.post("/v1/events", base_url=ops, **keyed).status_code == 404
