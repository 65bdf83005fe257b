"""Service mode as `make stream` runs it: the marts follow the stream in the landing service,
so a purchase reaches the player endpoint with no mart run by hand."""

from __future__ import annotations

import uuid

import requests

from lake.files import events_version_of, table_version
from runtime.layout import LakeLayout
from runtime.marts import MARTS
from stack.ingest_process import ingest_server
from tests.helpers.stack import free_port, landing_service, new_topic, stop
from tests.helpers.waiting import eventually


def owned(url: str, player_id: str) -> dict | None:
    """The player's state once it holds a sword, else None."""
    response = requests.get(f"{url}/v1/players/{player_id}", timeout=10)
    if response.status_code != 200:
        return None
    state = response.json()
    return state if "sword" in state["inventory"] else None


def test_a_purchase_reaches_the_player_endpoint_without_a_mart_run(
    kafka_admin, lake_root, tmp_path
):
    env = {
        "QUESTLOG_TOPIC": new_topic(kafka_admin),
        "QUESTLOG_LAKE_ROOT": lake_root,
        "QUESTLOG_PLAYER_STATE_REFRESH_S": "1",
    }
    player = f"newcomer-{uuid.uuid4().hex[:8]}"
    purchase = {
        "event_type": "purchase",
        "player_id": player,
        "properties": {"item": "sword", "price": 100, "currency": "gold", "quantity": 1},
    }
    with (tmp_path / "landing.log").open("w") as log:
        driver = landing_service(
            env, "--trigger-interval", "2 seconds", "--marts-every", "2", stdout=log
        )
        try:
            with ingest_server(free_port(), env=env, log_path=tmp_path / "ingest.log") as url:
                assert requests.get(f"{url}/v1/players/{player}", timeout=10).status_code in (
                    404,
                    503,
                )
                response = requests.post(f"{url}/v1/events", json=purchase, timeout=10)
                assert response.status_code == 202
                state = eventually(lambda: owned(url, player), timeout_s=300, every_s=1)
        finally:
            stop(driver)
    assert state["inventory"]["sword"]["quantity"] == 1
    assert state["purchases"]["purchases"] == 1
    assert state["data_age_s"] >= 0
    # Every mart records the events version it reflects: one the table has.
    layout = LakeLayout(lake_root)
    versions = [events_version_of(layout.mart_path(name)) for name in MARTS]
    assert None not in versions
    assert max(versions) <= table_version(layout.events_path)
