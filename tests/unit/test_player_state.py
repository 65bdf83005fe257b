from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from ingest import create_app
from ingest.players import MartFiles, PlayerState

T1 = datetime(2026, 11, 20, 10, 0)


PURCHASES = pa.schema(
    [
        ("player_id", pa.string()),
        ("purchases", pa.int64()),
        ("items_bought", pa.int64()),
        ("items", pa.map_(pa.string(), pa.int64())),
        ("spent", pa.map_(pa.string(), pa.float64())),
        ("gold_spent", pa.float64()),
        ("distinct_items", pa.int64()),
        ("first_purchase_at", pa.timestamp("us")),
        ("last_purchase_at", pa.timestamp("us")),
        ("active_days", pa.int64()),
        ("computed_at", pa.timestamp("us")),
    ]
)


def write_version(lake, mart, rows):
    """A mart run: the mart's Delta table replaced in one commit."""
    schema = PURCHASES if mart == "player_purchases" else None
    table = pa.Table.from_pylist(rows, schema=schema)
    write_deltalake(f"file://{lake}/marts/{mart}", table, mode="overwrite")


def inventory(player_id, items, guild_id=None, computed_at=T1):
    return {
        "player_id": player_id,
        "items": [{"item": i, "quantity": q, "since": T1} for i, q in items],
        "guild_id": guild_id,
        "guild_since": T1 if guild_id else None,
        "computed_at": computed_at,
    }


def purchases(player_id, gold):
    return {
        "player_id": player_id,
        "purchases": 1,
        "items_bought": 1,
        "items": [("sword", 1)],
        "spent": [("gold", gold)],
        "gold_spent": gold,
        "distinct_items": 1,
        "first_purchase_at": T1,
        "last_purchase_at": T1,
        "active_days": 1,
        "computed_at": T1,
    }


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def lake(tmp_path):
    write_version(tmp_path, "player_inventory", [inventory("ana", [("sword", 2)], "wolves")])
    write_version(tmp_path, "player_purchases", [purchases("ana", 200.0)])
    return tmp_path


def state_of(lake, clock=None):
    return PlayerState(MartFiles(f"file://{lake}"), refresh_s=30, clock=clock or Clock())


def test_a_player_gets_inventory_purchases_and_unlocks(lake):
    player = state_of(lake).lookup("ana")
    assert player["inventory"] == {"sword": {"quantity": 2, "since": T1.isoformat()}}
    assert player["guild_id"] == "wolves"
    assert player["unlocks"] == ["duel", "guild_quests"]
    assert player["purchases"]["gold_spent"] == 200.0
    assert player["purchases"]["spent"] == {"gold": 200.0}
    assert player["computed_at"] == T1.isoformat()


def test_an_unknown_player_is_none(lake):
    assert state_of(lake).lookup("nobody") is None


def test_a_newer_version_is_picked_up_after_the_refresh_interval(lake):
    clock = Clock()
    state = state_of(lake, clock)
    assert state.lookup("bo") is None
    write_version(lake, "player_inventory", [inventory("bo", [("horse", 1)])])
    assert state.lookup("bo") is None  # not checked again yet
    clock.now = 31
    assert state.lookup("bo")["unlocks"] == ["ride_to_far_lands"]


def test_a_file_of_a_write_that_never_committed_is_ignored(lake):
    folder = lake / "marts" / "player_inventory"
    pq.write_table(
        pa.Table.from_pylist([inventory("half", [])]), folder / "part-uncommitted.parquet"
    )
    assert state_of(lake).lookup("half") is None
    assert state_of(lake).lookup("ana") is not None


def test_the_player_endpoint_answers_200_and_404(lake, publisher):
    app = create_app({"PUBLISHER": publisher, "PLAYER_STATE": state_of(lake)})
    client = app.test_client()
    response = client.get("/v1/players/ana")
    assert response.status_code == 200
    assert response.json["inventory"]["sword"]["quantity"] == 2
    missing = client.get("/v1/players/nobody")
    assert missing.status_code == 404
    assert "nobody" in missing.json["message"]
