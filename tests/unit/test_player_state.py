import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake
from werkzeug.exceptions import ServiceUnavailable

from ingest import create_app
from ingest.players import MARTS, MartFiles, PlayerState, data_age_s, player_view
from ingest.settings import IngestSettings
from lake.files import EVENTS_VERSION_KEY
from tests.helpers.waiting import eventually

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


def state_of(lake, clock=None, wait_s=5.0):
    files = MartFiles(f"file://{lake}")
    return PlayerState(files.table, refresh_s=30, wait_s=wait_s, clock=clock or Clock())


def test_a_player_gets_inventory_purchases_and_unlocks(lake):
    player, age_s = state_of(lake).lookup("ana")
    assert player["inventory"] == {"sword": {"quantity": 2, "since": T1.isoformat()}}
    assert player["guild_id"] == "wolves"
    assert player["unlocks"] == ["duel", "guild_quests"]
    assert player["purchases"]["gold_spent"] == 200.0
    assert player["purchases"]["spent"] == {"gold": 200.0}
    assert player["computed_at"] == T1.isoformat()
    assert age_s == 0.0


def test_an_unknown_player_is_none(lake):
    assert state_of(lake).lookup("nobody")[0] is None


def test_a_newer_version_is_picked_up_after_the_refresh_interval(lake):
    clock = Clock()
    state = state_of(lake, clock)
    assert state.lookup("bo")[0] is None
    write_version(lake, "player_inventory", [inventory("bo", [("horse", 1)])])
    assert state.lookup("bo")[0] is None  # not read again yet
    clock.now = 31
    eventually(lambda: state.lookup("bo")[0] is not None)
    assert state.lookup("bo")[0]["unlocks"] == ["ride_to_far_lands"]


def test_a_file_of_a_write_that_never_committed_is_ignored(lake):
    folder = lake / "marts" / "player_inventory"
    pq.write_table(
        pa.Table.from_pylist([inventory("half", [])]), folder / "part-uncommitted.parquet"
    )
    assert state_of(lake).lookup("half")[0] is None
    assert state_of(lake).lookup("ana")[0] is not None


class HangingLake:
    """Answers with the real marts until `hang()`, then never (a NameNode that stopped)."""

    def __init__(self, lake):
        self.files = MartFiles(f"file://{lake}")
        self.released = threading.Event()
        self.released.set()
        self.calls = 0

    def hang(self):
        self.released.clear()

    def table(self, mart):
        self.calls += 1
        self.released.wait()
        return self.files.table(mart)


def test_a_lake_that_hangs_before_the_first_read_gives_503_within_the_wait(lake):
    hanging = HangingLake(lake)
    hanging.hang()
    state = PlayerState(hanging.table, refresh_s=30, wait_s=0.2)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        state.lookup("ana")
    assert time.monotonic() - started < 2.0
    hanging.released.set()


def test_a_lake_that_hangs_later_leaves_the_last_state_served_with_its_age(lake):
    clock = Clock()
    hanging = HangingLake(lake)
    state = PlayerState(hanging.table, refresh_s=30, wait_s=1.0, clock=clock, read_timeout_s=150)
    assert state.lookup("ana")[0] is not None
    hanging.hang()
    clock.now = 100
    started = time.monotonic()
    for _ in range(20):
        player, age_s = state.lookup("ana")
        assert player["guild_id"] == "wolves"
        assert age_s == 100
    assert time.monotonic() - started < 1.0
    # the first read loads every mart, the next hangs on the first; no third one piles up
    # before the read timeout
    eventually(lambda: hanging.calls == len(MARTS) + 1)
    clock.now = 200
    state.lookup("ana")
    assert hanging.calls == len(MARTS) + 1
    hanging.released.set()


def test_a_read_that_hangs_past_its_timeout_is_read_again_and_its_late_answer_ignored(lake):
    files = MartFiles(f"file://{lake}")
    stale = {mart: files.table(mart) for mart in ("player_inventory", "player_purchases")}
    hung: list[int] = []  # the thread whose read hangs
    hanging, released = threading.Event(), threading.Event()

    def load(mart):
        if hanging.is_set() and not hung:
            hung.append(threading.get_ident())
        if hung and threading.get_ident() == hung[0]:
            released.wait()
            return stale[mart] if mart in stale else files.table(mart)  # the version before
        return files.table(mart)

    clock = Clock()
    state = PlayerState(load, refresh_s=30, wait_s=1.0, clock=clock, read_timeout_s=60)
    assert state.lookup("ana")[0]["guild_id"] == "wolves"
    hanging.set()
    clock.now = 31  # due: a read starts, and hangs
    state.lookup("ana")
    eventually(lambda: bool(hung))
    clock.now = 90  # 59 s into it: still waited for
    state.lookup("ana")
    assert state._generation == 2
    # The lake answers again, with a newer version, to any read but the hung one.
    write_version(lake, "player_inventory", [inventory("ana", [("sword", 2)], "bears")])
    clock.now = 92  # 61 s: abandoned, read again
    state.lookup("ana")
    eventually(lambda: state.lookup("ana")[0]["guild_id"] == "bears")
    assert state._error == ""
    # The hung read returns the old version at last: it is ignored.
    released.set()
    eventually(lambda: hung[0] not in {thread.ident for thread in threading.enumerate()})
    assert state.lookup("ana")[0]["guild_id"] == "bears"


def test_a_lake_that_fails_later_leaves_the_last_state_served(lake):
    clock = Clock()
    files = MartFiles(f"file://{lake}")
    failing = {"now": False}

    def load(mart):
        if failing["now"]:
            raise OSError("NameNode is in safe mode")
        return files.table(mart)

    state = PlayerState(load, refresh_s=30, wait_s=1.0, clock=clock)
    assert state.lookup("ana")[0] is not None
    failing["now"] = True
    clock.now = 31
    state.lookup("ana")
    eventually(lambda: "safe mode" in state._error)
    assert state.lookup("ana")[0] is not None


def test_the_player_endpoint_answers_200_with_its_age_and_404(lake, publisher):
    app = create_app({"PUBLISHER": publisher, "PLAYER_STATE": state_of(lake)})
    client = app.test_client()
    response = client.get("/v1/players/ana")
    assert response.status_code == 200
    assert response.json["inventory"]["sword"]["quantity"] == 2
    assert response.json["state_age_s"] == 0.0
    # The data is as old as the marts' computation (T1), not as the read.
    expected_s = (datetime.now(UTC) - T1.replace(tzinfo=UTC)).total_seconds()
    assert response.json["data_age_s"] == pytest.approx(expected_s, abs=60)
    assert int(response.headers["Age"]) == pytest.approx(expected_s, abs=60)
    missing = client.get("/v1/players/nobody")
    assert missing.status_code == 404
    assert "nobody" in missing.json["message"]


def test_the_player_endpoint_needs_a_read_key_when_keys_are_set(lake, publisher):
    settings = IngestSettings(api_keys=("writer", "reader=players:read"))
    app = create_app({"SETTINGS": settings, "PUBLISHER": publisher, "PLAYER_STATE": state_of(lake)})
    client = app.test_client()
    assert client.get("/v1/players/ana").status_code == 401
    as_writer = client.get("/v1/players/ana", headers={"Authorization": "Bearer writer"})
    assert as_writer.status_code == 403
    as_reader = client.get("/v1/players/ana", headers={"Authorization": "Bearer reader"})
    assert as_reader.status_code == 200


def test_player_reads_are_rate_limited_per_key(lake, publisher):
    settings = IngestSettings(player_read_rate_per_s=0.001, player_read_burst=2)
    app = create_app({"SETTINGS": settings, "PUBLISHER": publisher, "PLAYER_STATE": state_of(lake)})
    client = app.test_client()
    assert [client.get("/v1/players/ana").status_code for _ in range(3)] == [200, 200, 429]
    # One token short at 0.001 tokens/s: about 1000 s until the next read may pass.
    assert 990 <= int(client.get("/v1/players/ana").headers["Retry-After"]) <= 1001


def test_a_lake_without_marts_yet_knows_no_player(tmp_path):
    assert state_of(tmp_path).lookup("ana") == (None, 0.0)


def test_a_player_gets_their_segment_and_spend_rank_once_segments_are_computed(lake):
    assert state_of(lake).lookup("ana")[0]["spending"] is None
    segment = {
        "player_id": "ana",
        "lifetime_spend": 200.0,
        "spend_rank": 1,
        "segment": "whale",
        "segment_revenue_share": 1.0,
        "computed_at": T1,
    }
    write_version(lake, "spender_segments", [segment])
    spending = state_of(lake).lookup("ana")[0]["spending"]
    assert spending == {"segment": "whale", "lifetime_spend": 200.0, "spend_rank": 1}


def test_an_answer_is_as_old_as_the_oldest_mart_it_comes_from():
    older, newer = T1, T1 + timedelta(hours=2)
    view = player_view(
        inventory("ana", [("sword", 1)], computed_at=newer),
        {**purchases("ana", 100.0), "computed_at": older},
    )
    assert view["computed_at"] == older.isoformat()
    assert data_age_s(view, older.replace(tzinfo=UTC) + timedelta(seconds=90)) == 90.0


def test_state_older_than_its_bound_is_refused_with_503_until_the_lake_answers(lake):
    clock = Clock()
    hanging = HangingLake(lake)
    state = PlayerState(
        hanging.table, refresh_s=30, wait_s=1.0, clock=clock, read_timeout_s=60, max_age_s=300
    )
    assert state.lookup("ana")[0] is not None
    hanging.hang()
    clock.now = 300  # the last read finished 300 s ago: still served, with its age
    assert state.lookup("ana")[1] == 300
    clock.now = 301
    with pytest.raises(ServiceUnavailable, match="last read 301 s ago"):
        state.lookup("ana")
    clock.now = 400  # the hung read is abandoned (past 60 s), a new one starts
    with pytest.raises(ServiceUnavailable):
        state.lookup("ana")
    hanging.released.set()  # the lake answers again: the new read brings fresh state
    eventually(lambda: state._read_at == 400)
    assert state.lookup("ana")[1] == 0


def test_a_request_after_an_idle_spell_past_the_bound_is_answered_from_a_fresh_read(lake):
    """Reads follow requests: after none for longer than `max_age_s`, the next request waits
    for the read it starts instead of being refused for the age of the last one."""
    clock = Clock()
    state = PlayerState(
        MartFiles(f"file://{lake}").table, refresh_s=30, wait_s=30, clock=clock, max_age_s=300
    )
    assert state.lookup("ana")[0]["guild_id"] == "wolves"
    write_version(lake, "player_inventory", [inventory("ana", [("sword", 2)], "bears")])
    clock.now = 1000
    player, age_s = state.lookup("ana")
    assert (player["guild_id"], age_s) == ("bears", 0)


def test_marts_read_between_two_commits_of_a_run_are_read_again(lake):
    """A read that finds the marts at different events versions (a run committing them one
    after another) is not served: they are read again until they agree."""
    files = MartFiles(f"file://{lake}")
    reads = Counter()

    def load(mart):
        reads[mart] += 1
        stale = mart == "player_inventory" and reads[mart] == 1
        return files.table(mart).replace_schema_metadata(
            {EVENTS_VERSION_KEY: "1" if stale else "2"}
        )

    player, _ = PlayerState(load, refresh_s=30, wait_s=10).lookup("ana")
    assert player["inventory"] == {"sword": {"quantity": 2, "since": T1.isoformat()}}
    assert reads["player_inventory"] == 2
    assert reads["player_purchases"] == 2


def test_a_refresh_reads_only_the_logs_of_marts_that_have_no_newer_version(lake):
    files = MartFiles(f"file://{lake}")
    loaded = Counter()
    version_table = files.version_table

    def counting(version):
        loaded[version.uri.rsplit("/", 1)[1]] += 1
        return version_table(version)

    files.version_table = counting
    clock = Clock()
    state = PlayerState(files.table, refresh_s=5, wait_s=5.0, clock=clock)
    first = state.lookup("ana")[0]
    clock.now = 6
    state.lookup("ana")  # due: a read starts; no mart changed
    eventually(lambda: state._read_at == 6)
    assert loaded == Counter(player_inventory=1, player_purchases=1)
    assert state.lookup("ana") == (first, 0)
    write_version(lake, "player_inventory", [inventory("ana", [("sword", 2)], "bears")])
    clock.now = 12
    state.lookup("ana")
    eventually(lambda: state._read_at == 12)
    assert loaded == Counter(player_inventory=2, player_purchases=1)
    assert state.lookup("ana")[0]["guild_id"] == "bears"
