"""Pure transforms from landed events to marts: `DataFrame -> DataFrame`, no I/O."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from events.shop import CURRENCY, SPENT_COLUMN


def purchases(events: DataFrame) -> DataFrame:
    """Purchase events with their item, quantity, unit price, currency and amount spent."""
    return events.where(F.col("event_type") == "purchase").select(
        "player_id",
        "event_ts",
        "event_date",
        F.col("properties.item").alias("item"),
        F.col("properties.quantity").alias("quantity"),
        F.col("properties.currency").alias("currency"),
        (F.col("properties.price") * F.col("properties.quantity")).alias("amount"),
    )


def _sums_per_player(bought: DataFrame, key: str, value: str, name: str) -> DataFrame:
    """Per player: a map `name` from each `key` to the sum of `value`, keys in order."""
    return (
        bought.groupBy("player_id", key)
        .agg(F.sum(value).alias(value))
        .groupBy("player_id")
        .agg(F.map_from_entries(F.sort_array(F.collect_list(F.struct(key, value)))).alias(name))
    )


def player_purchases(events: DataFrame) -> DataFrame:
    """Per player seen: purchases in total and per item, spend per currency, first/last, days.

    `purchases` counts purchase events, `items_bought` their quantities; `price` is per unit.
    A player who never bought appears with zeros, so the spend distribution includes them.
    """
    activity = events.groupBy("player_id").agg(F.countDistinct("event_date").alias("active_days"))
    bought = purchases(events)
    per_player = bought.groupBy("player_id").agg(
        F.count(F.lit(1)).alias("purchases"),
        F.sum("quantity").alias("items_bought"),
        F.countDistinct("item").alias("distinct_items"),
        F.min("event_ts").alias("first_purchase_at"),
        F.max("event_ts").alias("last_purchase_at"),
    )
    per_item = _sums_per_player(bought, "item", "quantity", "items")
    per_currency = _sums_per_player(bought, "currency", "amount", "spent")
    joined = (
        activity.join(per_player, "player_id", "left")
        .join(per_item, "player_id", "left")
        .join(per_currency, "player_id", "left")
    )
    return joined.select(
        "player_id",
        F.coalesce("purchases", F.lit(0)).cast("long").alias("purchases"),
        F.coalesce("items_bought", F.lit(0)).cast("long").alias("items_bought"),
        F.coalesce("items", F.create_map().cast("map<string,bigint>")).alias("items"),
        F.coalesce("spent", F.create_map().cast("map<string,double>")).alias("spent"),
        F.coalesce(F.col("spent")[CURRENCY], F.lit(0.0)).alias(SPENT_COLUMN),
        F.coalesce("distinct_items", F.lit(0)).cast("long").alias("distinct_items"),
        "first_purchase_at",
        "last_purchase_at",
        F.col("active_days").cast("long").alias("active_days"),
    )


def daily_item_sales(events: DataFrame) -> DataFrame:
    """Per day, item and currency: purchases, units sold, unique buyers and revenue."""
    return (
        purchases(events)
        .groupBy("event_date", "item", "currency")
        .agg(
            F.count(F.lit(1)).alias("purchases"),
            F.sum("quantity").alias("units"),
            F.countDistinct("player_id").alias("unique_buyers"),
            F.sum("amount").alias("revenue"),
        )
    )


def daily_active_players(events: DataFrame) -> DataFrame:
    """Per day: players with any event, players seen for the first time, sessions started.

    `new_players` needs each player's first day, so pass every event up to the last day
    computed, not only the days computed.
    """
    first_day = events.groupBy("player_id").agg(F.min("event_date").alias("first_day"))
    per_day = events.groupBy("event_date").agg(
        F.countDistinct("player_id").alias("active_players"),
        F.count(F.when(F.col("event_type") == "session_start", True)).alias("sessions"),
    )
    new = first_day.groupBy(F.col("first_day").alias("event_date")).agg(
        F.count(F.lit(1)).alias("new_players")
    )
    return per_day.join(new, "event_date", "left").select(
        "event_date",
        F.col("active_players").cast("long").alias("active_players"),
        F.coalesce("new_players", F.lit(0)).cast("long").alias("new_players"),
        F.col("sessions").cast("long").alias("sessions"),
    )


def player_inventory(events: DataFrame) -> DataFrame:
    """Per player seen: the items owned now (units and since when) and the guild joined last."""
    owned = (
        purchases(events)
        .groupBy("player_id", "item")
        .agg(F.sum("quantity").alias("quantity"), F.min("event_ts").alias("since"))
        .groupBy("player_id")
        .agg(F.sort_array(F.collect_list(F.struct("item", "quantity", "since"))).alias("items"))
    )
    guild = (
        events.where(F.col("event_type") == "join_guild")
        .groupBy("player_id")
        .agg(F.max_by(F.struct("event_ts", "properties.guild_id"), "event_ts").alias("last"))
        .select(
            "player_id",
            F.col("last.guild_id").alias("guild_id"),
            F.col("last.event_ts").alias("guild_since"),
        )
    )
    players = events.select("player_id").distinct()
    item_type = "array<struct<item:string,quantity:bigint,since:timestamp>>"
    return (
        players.join(owned, "player_id", "left")
        .join(guild, "player_id", "left")
        .select(
            "player_id",
            F.coalesce("items", F.array().cast(item_type)).alias("items"),
            "guild_id",
            "guild_since",
        )
    )
