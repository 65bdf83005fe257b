from datetime import date, datetime

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from jobs.marts import daily_active_players, daily_item_sales, player_inventory
from tests.helpers.events import EVENTS, event

D1 = datetime(2026, 11, 20, 10, 0, 0)
D2 = datetime(2026, 11, 21, 9, 0, 0)


def guild_event(player, ts, guild_id):
    row = event(player, ts, event_type="join_guild")
    properties = row.properties.asDict() | {"guild_id": guild_id}
    return Row(**(row.asDict() | {"properties": Row(**properties)}))


def sample(spark):
    return spark.createDataFrame(
        [
            event("ana", D1, event_type="session_start"),
            event("ana", D1, item="sword", price=100.0),
            event("ana", D1, item="sword", price=100.0),  # same second, same item
            event("bo", D1, item="sword", price=90.0, quantity=2),
            event("bo", D2, event_type="session_start"),
            event("bo", D2, item="dragon_egg", price=5.0, currency="gems"),
            event("cy", D2, event_type="session_start"),
            guild_event("cy", D1, "wolves"),
            guild_event("cy", D2, "ravens"),
        ],
        EVENTS,
    )


def test_daily_item_sales_on_hand_computed_events(spark):
    expected = spark.createDataFrame(
        [
            Row(event_date=date(2026, 11, 20), item="sword", currency="gold",
                purchases=3, units=4, unique_buyers=2, revenue=380.0),
            Row(event_date=date(2026, 11, 21), item="dragon_egg", currency="gems",
                purchases=1, units=1, unique_buyers=1, revenue=5.0),
        ],
        daily_item_sales(sample(spark)).schema,
    )  # fmt: skip
    assertDataFrameEqual(daily_item_sales(sample(spark)), expected)


def test_daily_active_players_counts_new_players_on_their_first_day_only(spark):
    expected = spark.createDataFrame(
        [
            Row(event_date=date(2026, 11, 20), active_players=3, new_players=3, sessions=1),
            Row(event_date=date(2026, 11, 21), active_players=2, new_players=0, sessions=2),
        ],
        daily_active_players(sample(spark)).schema,
    )
    assertDataFrameEqual(daily_active_players(sample(spark)), expected)


def test_player_inventory_holds_items_since_first_bought_and_the_last_guild(spark):
    rows = {r.player_id: r for r in player_inventory(sample(spark)).collect()}
    assert [(i.item, i.quantity, i.since) for i in rows["ana"].items] == [("sword", 2, D1)]
    assert [(i.item, i.quantity) for i in rows["bo"].items] == [("dragon_egg", 1), ("sword", 2)]
    assert rows["ana"].guild_id is None
    assert (rows["cy"].items, rows["cy"].guild_id, rows["cy"].guild_since) == ([], "ravens", D2)
