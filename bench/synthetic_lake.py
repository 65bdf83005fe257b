"""Write N landed events straight into a lake, for the marts benchmark:

    spark-submit bench/synthetic_lake.py EVENTS OUT

The rows have the landing job's schema and partitions, in a Delta table as the landing job
writes it. Players are skewed like the
simulator's: a few whales buy often, most players never pay, and low-numbered players play
the most.
"""

from __future__ import annotations

import sys

from pyspark.sql import functions as F

from events.shop import SHOP
from lake.session import spark_session
from simulator.players import GUILDS
from streaming.landed import landed_events_schema

DAYS = 30
EVENTS_PER_PLAYER = 50
# Chance that an event of a player of this kind (player number % 100 below the bound) is a buy.
BUY_CHANCE = [(2, 0.4), (12, 0.2), (40, 0.05)]


def synthetic_events(spark, events: int, days: int = DAYS):
    """`events` rows shaped as landed events over the last `days` days, skewed over players,
    days and kinds."""
    players = max(events // EVENTS_PER_PLAYER, 100)
    items = list(SHOP)
    player = F.floor(F.pow(F.rand(1), 3) * players).cast("long")
    buy_chance = F.lit(0.0)
    for bound, chance in reversed(BUY_CHANCE):
        buy_chance = F.when(F.col("player") % 100 < bound, chance).otherwise(buy_chance)
    other = F.rand(3)
    event_type = (
        F.when(F.rand(2) < buy_chance, "purchase")
        .when(other < 0.35, "session_start")
        .when(other < 0.70, "session_end")
        .when(other < 0.90, "level_up")
        .when(other < 0.95, "join_guild")
        .otherwise("default")
    )
    item = F.element_at(F.array(*map(F.lit, items)), (F.rand(4) * len(items)).cast("int") + 1)
    prices = [F.lit(x) for name in items for x in (name, SHOP[name].price)]
    currencies = [F.lit(x) for name in items for x in (name, SHOP[name].currency)]
    price = F.element_at(F.create_map(*prices), item)
    currency = F.element_at(F.create_map(*currencies), item)
    quantity = F.element_at(F.array(*map(F.lit, [1, 1, 1, 2, 5])), (F.rand(5) * 5).cast("int") + 1)
    guild = F.element_at(F.array(*map(F.lit, GUILDS)), (F.rand(6) * len(GUILDS)).cast("int") + 1)
    buying = F.col("event_type") == "purchase"
    event_ts = F.timestamp_seconds(
        F.unix_timestamp(F.date_sub(F.current_date(), days)) + (F.rand(7) * days * 86_400)
    )
    landed = landed_events_schema(spark)
    properties = struct_of(
        landed["properties"].dataType,
        item=F.when(buying, item),
        price=F.when(buying, price),
        currency=F.when(buying, currency),
        quantity=F.when(buying, quantity),
        guild_id=F.when(F.col("event_type") == "join_guild", guild),
        level=F.when(F.col("event_type") == "level_up", (F.rand(8) * 50).cast("long") + 1),
    )
    context = struct_of(
        landed["context"].dataType,
        host=F.lit("127.0.0.1:5000"),
        user_agent=F.lit("questlog-bench"),
        remote_addr=F.lit("127.0.0.1"),
        api_version=F.lit("v1"),
    )
    rows = (
        spark.range(0, events, numPartitions=max(2, events // 1_000_000))
        .withColumn("player", player)
        .withColumn("event_type", event_type)
        .withColumn("event_ts", event_ts)
    )
    columns = rows.select(
        F.expr("uuid()").alias("event_id"),
        "event_type",
        F.lit(1).cast("long").alias("schema_version"),
        F.format_string("player-%07d", "player").alias("player_id"),
        F.format_string("%s-%s", "player", F.to_date("event_ts")).alias("session_id"),
        F.col("event_ts").alias("client_ts"),
        (F.col("event_ts") + F.expr("INTERVAL 2 SECONDS")).alias("received_at"),
        "event_ts",
        properties.alias("properties"),
        context.alias("context"),
        F.lit("events").alias("kafka_topic"),
        (F.col("id") % 3).cast("int").alias("kafka_partition"),
        F.col("id").alias("kafka_offset"),
        F.col("event_ts").alias("kafka_timestamp"),
        F.to_date("event_ts").alias("event_date"),
    )
    # In the landed table's order and types: a column it lacks fails here, not in the marts.
    return columns.select(*[F.col(f.name).cast(f.dataType) for f in landed.fields])


def struct_of(struct_type, **values):
    """A struct column of `struct_type` from the given fields; the fields not given are null."""
    return F.struct(
        *[values.get(f.name, F.lit(None)).cast(f.dataType).alias(f.name) for f in struct_type]
    )


def main() -> int:
    events, out = int(sys.argv[1]), sys.argv[2]
    spark = spark_session("questlog-bench-synthetic-lake")
    rows = synthetic_events(spark, events).repartition("event_date")
    rows.write.format("delta").mode("overwrite").partitionBy("event_date").save(out)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
