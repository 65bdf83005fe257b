"""The player endpoint's state: the marts with the events landed since folded in."""

from datetime import UTC, datetime

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from pyspark.sql import Row
from pyspark.sql import functions as F

from ingest.players import FOLDED_COLUMNS, FOLDED_TYPES, PlayerState, with_new_events
from jobs.marts import player_inventory, player_purchases
from lake.files import EVENTS_VERSION_KEY, EventChanges, NewEvents
from tests.helpers.events import EVENTS, event

D0 = datetime(2026, 11, 19, 8, 0, 0)
D1 = datetime(2026, 11, 20, 10, 0, 0)
D2 = datetime(2026, 11, 21, 9, 0, 0)
COMPUTED = datetime(2026, 11, 21, 12, 0, 0)
LANDED = datetime(2026, 11, 21, 12, 5, 0, tzinfo=UTC)


def guild_event(player, ts, guild_id):
    row = event(player, ts, event_type="join_guild")
    properties = row.properties.asDict() | {"guild_id": guild_id}
    return Row(**(row.asDict() | {"properties": Row(**properties)}))


FIRST = [
    event("ana", D1, event_type="session_start"),
    event("ana", D1, item="sword", price=100.0),
    event("bo", D1, item="sword", price=90.0, quantity=2),
    event("bo", D2, item="dragon_egg", price=5.0, currency="gems"),
    guild_event("cy", D1, "wolves"),
    guild_event("cy", D2, "ravens"),
]
# Landed after the marts: a new item, a late purchase before the first, a first guild, a
# late guild join older than the last one, and a player the marts have never seen.
LATER = [
    event("ana", D2, item="shield", price=40.0),
    event("ana", D0, item="sword", price=100.0),
    guild_event("bo", D2, "owls"),
    event("cy", D2, item="horse", price=250.0, quantity=3),
    guild_event("cy", D0, "bears"),
    event("dee", D1, item="horse", price=250.0),
    event("dee", D2, item="sword", price=100.0),
    guild_event("dee", D2, "owls"),
]


def mart_tables(spark, rows) -> dict[str, pa.Table | None]:
    """The player marts computed from `rows`, as the player endpoint reads them."""
    events = spark.createDataFrame(rows, EVENTS)
    computed = F.lit(COMPUTED).alias("computed_at")
    return {
        "player_inventory": player_inventory(events).select("*", computed).toArrow(),
        "player_purchases": player_purchases(events).select("*", computed).toArrow(),
        "spender_segments": None,
    }


def answers(spark, rows) -> dict[str, dict]:
    """The players as the marts computed from `rows` give them."""
    return PlayerState._players_of(mart_tables(spark, rows))


def state_of(spark, changes) -> PlayerState:
    """A player state reading the marts of FIRST, which reflect events version 4."""
    tables = {
        mart: table.replace_schema_metadata({EVENTS_VERSION_KEY: b"4"}) if table else None
        for mart, table in mart_tables(spark, FIRST).items()
    }

    def load(mart):
        if tables[mart] is None:
            raise FileNotFoundError(mart)
        return tables[mart]

    return PlayerState(load, refresh_s=30, wait_s=30, changes=changes)


def landed(spark, rows, change="insert") -> NewEvents:
    """`rows` as the change feed of one commit gives them."""
    changed = [
        row.asDict(recursive=True) | {"_change_type": change, "_commit_version": 1}
        for row in spark.createDataFrame(rows, EVENTS).collect()
    ]
    return NewEvents(changed, 1, LANDED)


def without(player: dict, *keys: str) -> dict:
    kept = {key: value for key, value in player.items() if key not in keys}
    if "active_days" in keys and kept["purchases"]:
        kept["purchases"] = {k: v for k, v in kept["purchases"].items() if k != "active_days"}
    return kept


def test_folding_new_events_into_the_marts_gives_what_the_marts_of_every_event_give(spark):
    marts = answers(spark, FIRST)
    folded = with_new_events(marts, landed(spark, LATER))
    expected = answers(spark, FIRST + LATER)
    assert folded.keys() == expected.keys()
    for player_id in ("ana", "bo", "cy"):
        # Days active stay as the marts counted them for a player they knew.
        ignored = ("computed_at", "landed_through", "active_days")
        assert without(folded[player_id], *ignored) == without(expected[player_id], *ignored)
    assert without(folded["dee"], "computed_at", "landed_through") == without(
        expected["dee"], "computed_at", "landed_through"
    )
    assert folded["cy"]["guild_id"] == "ravens"
    assert {p["landed_through"] for p in folded.values()} == {LANDED.isoformat()}
    # The marts' own answers are left as they were.
    assert marts == answers(spark, FIRST)


def test_a_player_with_an_event_deleted_since_the_marts_is_not_answered_for(spark):
    marts = answers(spark, FIRST)
    erased = landed(spark, [FIRST[1]], change="delete")
    folded = with_new_events(marts, erased)
    assert "ana" not in folded
    assert folded["bo"] == marts["bo"]


def test_the_change_feed_gives_what_events_gained_and_lost_after_a_version(tmp_path):
    uri = str(tmp_path / "events")

    def rows(*players):
        return pa.table(
            {
                "player_id": list(players),
                "event_type": ["purchase"] * (len(players) - 1) + ["level_up"],
                "event_ts": [datetime(2026, 11, 20, tzinfo=UTC)] * len(players),
            }
        )

    write_deltalake(uri, rows("ana", "x"), configuration={"delta.enableChangeDataFeed": "true"})
    write_deltalake(uri, rows("bo", "cy", "x"), mode="append")
    changes = EventChanges(uri, FOLDED_TYPES, FOLDED_COLUMNS[:2])
    first = changes.since(0)
    assert (first.version, [r["player_id"] for r in first.rows]) == (1, ["bo", "cy"])
    assert first.committed_at is not None
    DeltaTable(uri).delete("player_id = 'bo'")
    later = changes.since(0)
    seen = sorted((r["player_id"], r["_change_type"], r["_commit_version"]) for r in later.rows)
    assert seen == [("bo", "delete", 2), ("bo", "insert", 1), ("cy", "insert", 1)]
    # Once the marts reflect version 1, only what came after is new.
    assert [(r["player_id"], r["_change_type"]) for r in changes.since(1).rows] == [
        ("bo", "delete")
    ]
    assert changes.since(2).rows == []


def test_the_player_state_asks_for_what_landed_after_the_marts_version(spark):
    asked = []

    def changes(version):
        asked.append(version)
        return landed(spark, LATER)

    state = state_of(spark, changes)
    newcomer, _ = state.lookup("dee")
    assert asked == [4]
    assert newcomer["inventory"]["horse"]["quantity"] == 1


def test_events_that_cannot_be_read_leave_the_marts_answering(spark):
    def changes(version):
        raise OSError("the feed does not reach that version")

    state = state_of(spark, changes)
    assert state.lookup("ana")[0]["inventory"]["sword"]["quantity"] == 1
    assert state.lookup("dee")[0] is None
