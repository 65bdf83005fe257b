from datetime import datetime

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from jobs.marts import player_purchases
from tests.helpers.events import EVENTS, event


def test_player_purchases_on_hand_computed_events(spark):
    t = datetime(2026, 11, 20, 10, 0, 0)
    events = spark.createDataFrame(
        [
            event("ana", t, item="sword", price=100.0),
            # two purchases in the same second
            event("ana", datetime(2026, 11, 21, 9, 0, 0), item="horse", price=250.0),
            event("ana", datetime(2026, 11, 21, 9, 0, 0), item="sword", price=100.0, quantity=2),
            # an item the shop never sold, paid in gems
            event("bo", t, item="dragon_egg", price=5.0, currency="gems"),
            # a player with no purchases
            event("cy", t, event_type="session_start"),
            event("cy", datetime(2026, 11, 22, 8, 0, 0), event_type="level_up"),
        ],
        EVENTS,
    )
    expected = spark.createDataFrame(
        [
            Row(
                player_id="ana",
                purchases=3,
                items_bought=4,
                items={"horse": 1, "sword": 3},
                spent={"gold": 550.0},
                gold_spent=550.0,
                distinct_items=2,
                first_purchase_at=t,
                last_purchase_at=datetime(2026, 11, 21, 9, 0, 0),
                active_days=2,
            ),
            Row(
                player_id="bo",
                purchases=1,
                items_bought=1,
                items={"dragon_egg": 1},
                spent={"gems": 5.0},
                gold_spent=0.0,
                distinct_items=1,
                first_purchase_at=t,
                last_purchase_at=t,
                active_days=1,
            ),
            Row(
                player_id="cy",
                purchases=0,
                items_bought=0,
                items={},
                spent={},
                gold_spent=0.0,
                distinct_items=0,
                first_purchase_at=None,
                last_purchase_at=None,
                active_days=2,
            ),
        ],
        schema=player_purchases(events).schema,
    )
    assertDataFrameEqual(player_purchases(events), expected)


def test_a_day_counts_once_however_many_events_it_has(spark):
    events = spark.createDataFrame(
        [
            event("ana", datetime(2026, 11, 20, 0, 0), item="sword", price=1.0),
            event("ana", datetime(2026, 11, 20, 23, 59), event_type="session_start"),
        ],
        EVENTS,
    )
    (row,) = player_purchases(events).collect()
    assert row.active_days == 1
