"""What every mart's spark-submit entry point does: read, transform, write a version, register."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import marts
from lake.io import latest_mart_path, read_events, write_mart
from lake.session import spark_session
from lake.settings import LakeSettings


@dataclass(frozen=True)
class Mart:
    """A mart: its transform, whether it has one row set per day, and what it says it holds."""

    transform: Callable[[DataFrame], DataFrame]
    daily: bool
    description: str
    order_by: tuple[str, ...]


MARTS = {
    "player_purchases": Mart(
        marts.player_purchases,
        daily=False,
        description="per player: purchases in total and per item, spend per currency, first "
        "and last purchase, distinct items, active days",
        order_by=("gold_spent DESC", "player_id"),
    ),
    "daily_item_sales": Mart(
        marts.daily_item_sales,
        daily=True,
        description="per day and item: purchases, units, unique buyers, revenue",
        order_by=("event_date DESC", "revenue DESC"),
    ),
    "daily_active_players": Mart(
        marts.daily_active_players,
        daily=True,
        description="per day: active players, new players, sessions",
        order_by=("event_date DESC",),
    ),
    "player_inventory": Mart(
        marts.player_inventory,
        daily=False,
        description="per player: the items owned now and since when, and guild membership",
        order_by=("player_id",),
    ),
}
EVENTS_TABLE = "events"


def register_table(spark: SparkSession, name: str, path: str) -> None:
    """Point the catalog's table `name` at `path` (the table is external: data stays put)."""
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    spark.sql(f"CREATE TABLE {name} USING parquet LOCATION '{path}'")


def compute(spark: SparkSession, mart: Mart, events_path: str, out: str, first, last) -> DataFrame:
    """The mart's rows: whole, or for a daily mart with a range, the range recomputed and the
    other days kept from the latest version."""
    if not mart.daily or (first is None and last is None):
        return mart.transform(read_events(spark, events_path))
    # Every event up to the last day: a daily mart may need history (a player's first day).
    in_range = (F.col("event_date") >= F.lit(first or date.min)) & (
        F.col("event_date") <= F.lit(last or date.max)
    )
    fresh = mart.transform(read_events(spark, events_path, last=last)).where(in_range)
    previous = latest_mart_path(spark, out)
    if previous is None:
        return fresh
    kept = spark.read.parquet(previous).drop("computed_at").where(~in_range)
    return kept.unionByName(fresh)


def run_mart(name: str, argv: list[str] | None = None) -> int:
    """Parse the entry point's arguments and compute the mart `name`."""
    mart = MARTS[name]
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog=f"spark-submit jobs/{name}.py",
        description=f"The {name} mart: {mart.description}. Reads the landed events through "
        "Spark (exactly once), writes a new version under the mart's folder (readers switch "
        "to it atomically) and points the SQL table of the same name at it.",
    )
    parser.add_argument("--events", default=settings.events_path, help="landed events")
    parser.add_argument("--out", default=settings.mart_path(name), help="the mart's folder")
    if mart.daily:
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first day")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day")
    parser.add_argument("--show", type=int, default=0, help="print the top N rows")
    parser.add_argument("--no-tables", action="store_true", help="do not register SQL tables")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    spark = spark_session(f"questlog-{name}", settings, catalog=not args.no_tables)
    rows = compute(
        spark,
        mart,
        args.events,
        args.out,
        getattr(args, "first", None),
        getattr(args, "last", None),
    )
    path = write_mart(spark, rows.withColumn("computed_at", F.current_timestamp()), args.out)
    written = spark.read.parquet(path)
    print(f"{name}: {written.count()} rows -> {path}")
    if not args.no_tables:
        register_table(spark, name, path)
        register_table(spark, EVENTS_TABLE, args.events)
        print(f"tables: {name}, {EVENTS_TABLE}")
    if args.show:
        written.orderBy(*[F.expr(o) for o in mart.order_by]).show(args.show, truncate=False)
    spark.stop()
    return 0
