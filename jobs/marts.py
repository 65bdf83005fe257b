"""Pure transforms from landed events to marts: `DataFrame -> DataFrame`, no I/O.

Each takes the landed events, or the inputs already derived from them (`jobs.inputs`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from events.shop import CURRENCY, SPENT_COLUMN
from jobs.inputs import MartInputs, inputs_of


def _sums_per_player(bought: DataFrame, key: str, value: str, name: str) -> DataFrame:
    """Per player: a map `name` from each `key` to the sum of `value`, keys in order."""
    return (
        bought.groupBy("player_id", key)
        .agg(F.sum(value).alias(value))
        .groupBy("player_id")
        .agg(F.map_from_entries(F.sort_array(F.collect_list(F.struct(key, value)))).alias(name))
    )


def player_purchases(events: DataFrame | MartInputs) -> DataFrame:
    """Per player seen: purchases in total and per item, spend per currency, first/last, days.

    `purchases` counts purchase events, `items_bought` their quantities; `price` is per unit.
    A player who never bought appears with zeros, so the spend distribution includes them.
    """
    inputs = inputs_of(events)
    activity = inputs.players.select("player_id", "active_days")
    bought = inputs.purchases
    # Per player and item first, then per player: the counts, the units per item and the
    # first and last purchase in one two-level aggregation; the map's size is the number of
    # distinct items.
    per_item = bought.groupBy("player_id", "item").agg(
        F.sum("purchases").alias("purchases"),
        F.sum("quantity").alias("quantity"),
        F.min("first_ts").alias("first"),
        F.max("last_ts").alias("last"),
    )
    per_player = per_item.groupBy("player_id").agg(
        F.sum("purchases").alias("purchases"),
        F.sum("quantity").alias("items_bought"),
        F.map_from_entries(F.sort_array(F.collect_list(F.struct("item", "quantity")))).alias(
            "items"
        ),
        F.min("first").alias("first_purchase_at"),
        F.max("last").alias("last_purchase_at"),
    )
    per_currency = _sums_per_player(bought, "currency", "amount", "spent")
    joined = activity.join(per_player, "player_id", "left").join(per_currency, "player_id", "left")
    items = F.coalesce("items", F.create_map().cast("map<string,bigint>"))
    return joined.select(
        "player_id",
        F.coalesce("purchases", F.lit(0)).cast("long").alias("purchases"),
        F.coalesce("items_bought", F.lit(0)).cast("long").alias("items_bought"),
        items.alias("items"),
        F.coalesce("spent", F.create_map().cast("map<string,double>")).alias("spent"),
        F.coalesce(F.col("spent")[CURRENCY], F.lit(0.0)).alias(SPENT_COLUMN),
        F.size(items).cast("long").alias("distinct_items"),
        "first_purchase_at",
        "last_purchase_at",
        F.col("active_days").cast("long").alias("active_days"),
    )


def daily_item_sales(events: DataFrame | MartInputs) -> DataFrame:
    """Per day, item and currency: purchases, units sold, unique buyers and revenue."""
    return (
        inputs_of(events)
        .purchases.groupBy("event_date", "item", "currency")
        .agg(
            F.sum("purchases").alias("purchases"),
            F.sum("quantity").alias("units"),
            F.countDistinct("player_id").alias("unique_buyers"),
            F.sum("amount").alias("revenue"),
        )
    )


def daily_active_players(events: DataFrame | MartInputs) -> DataFrame:
    """Per day: players with any event, players seen for the first time, sessions started.

    `new_players` needs each player's first day, so pass every event up to the last day
    computed, not only the days computed.
    """
    inputs = inputs_of(events)
    new = inputs.players.groupBy(F.col("cohort_date").alias("event_date")).agg(
        F.count(F.lit(1)).alias("new_players")
    )
    return inputs.days.join(new, "event_date", "left").select(
        "event_date",
        F.col("active_players").cast("long").alias("active_players"),
        F.coalesce("new_players", F.lit(0)).cast("long").alias("new_players"),
        F.col("sessions").cast("long").alias("sessions"),
    )


def player_inventory(events: DataFrame | MartInputs) -> DataFrame:
    """Per player seen: the items owned now (units and since when) and the guild joined last."""
    inputs = inputs_of(events)
    owned = (
        inputs.purchases.groupBy("player_id", "item")
        .agg(F.sum("quantity").alias("quantity"), F.min("first_ts").alias("since"))
        .groupBy("player_id")
        .agg(F.sort_array(F.collect_list(F.struct("item", "quantity", "since"))).alias("items"))
    )
    item_type = "array<struct<item:string,quantity:bigint,since:timestamp>>"
    return (
        inputs.players.select("player_id")
        .join(owned, "player_id", "left")
        .join(inputs.last_guilds, "player_id", "left")
        .select(
            "player_id",
            F.coalesce("items", F.array().cast(item_type)).alias("items"),
            "guild_id",
            "guild_since",
        )
    )
