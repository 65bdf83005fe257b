"""What every mart's spark-submit entry point does: read, transform, write the table, register."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from importlib import import_module

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.day_status import with_day_status
from jobs.state import day_status, refresh_states, state_inputs
from lake.files import Commit, last_commit
from lake.io import read_mart, register_table, write_mart
from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.layout import EVENTS_TABLE, QUARANTINE_TABLE
from runtime.marts import MARTS
from runtime.marts import MartSpec as Mart


def utc_today() -> date:
    """The first day not over yet: retention and LTV cells wait until their day is before it."""
    return datetime.now(UTC).date()


def transform(mart: Mart, events: DataFrame) -> DataFrame:
    """The mart's rows from the landed events, by the transform the registry names."""
    module, function = mart.transform.split(":")
    rows_of = getattr(import_module(module), function)
    return rows_of(events, utc_today()) if mart.as_of_today else rows_of(events)


def in_mart_order(mart: Mart, rows: DataFrame) -> DataFrame:
    """The rows sorted by the registry's `order_by`: columns, each optionally `DESC`.

    (`F.expr("x DESC")` would read DESC as an alias of x and sort ascending.)"""
    keys = []
    for item in mart.order_by:
        column, _, direction = item.partition(" ")
        keys.append(F.col(column).desc() if direction.upper() == "DESC" else F.col(column).asc())
    return rows.orderBy(*keys)


def day_range(first: date | None, last: date | None) -> str:
    """The SQL predicate of the days first..last (either end open)."""
    return f"event_date BETWEEN DATE'{first or date.min}' AND DATE'{last or date.max}'"


def compute(
    spark: SparkSession, settings: LakeSettings, mart: Mart, events_path: str, first, last
) -> tuple[DataFrame, DataFrame, int]:
    """The mart's rows (for a daily mart with a range, only the range's days), the days'
    status, and the `events` version they reflect: from the state, brought up to date."""
    version = refresh_states(spark, settings, events_path)
    rows = transform(mart, state_inputs(spark, events_path))
    if mart.daily and (first is not None or last is not None):
        rows = rows.where(F.expr(day_range(first, last)))
    return rows, day_status(spark, settings, events_path, datetime.now(UTC)), version


def write(
    mart: Mart,
    rows: DataFrame,
    out: str,
    first,
    last,
    days: DataFrame,
    events_version: int | None = None,
) -> None:
    """Replace the mart's table: whole, or for a daily mart with a range, only those days.
    A daily mart's rows get their day's status from `days` (`jobs.state.day_status`); the
    commit records the `events` version they reflect."""
    rows = rows.withColumn("computed_at", F.current_timestamp())
    if mart.daily:
        rows = with_day_status(rows, days)
    partial = mart.daily and (first is not None or last is not None)
    replace_where = day_range(first, last) if partial else None
    write_mart(rows, out, replace_where=replace_where, events_version=events_version)


def refresh(
    spark: SparkSession,
    settings: LakeSettings,
    mart: Mart,
    events_path: str,
    out: str,
    first=None,
    last=None,
) -> Commit:
    """Compute the mart (whole, or for a daily mart with a range, only the range's days) and
    replace it in its table in one commit; that commit's version and rows."""
    rows, days, version = compute(spark, settings, mart, events_path, first, last)
    write(mart, rows, out, first, last, days, version)
    return last_commit(out)


def register_lake_tables(
    spark: SparkSession, marts: list[str], events_path: str, quarantine_path: str
) -> None:
    """Point the SQL tables `events` and `quarantine` at the lake's; print every table."""
    register_table(spark, EVENTS_TABLE, events_path)
    register_table(spark, QUARANTINE_TABLE, quarantine_path)
    print(f"tables: {', '.join(marts)}, {EVENTS_TABLE}, {QUARANTINE_TABLE}")


def run_mart(name: str, argv: list[str] | None = None) -> int:
    """Parse the entry point's arguments and compute the mart `name`."""
    mart = MARTS[name]
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog=f"spark-submit jobs/{name}.py",
        description=f"The {name} mart: {mart.description}. Reads the landed events through "
        "Spark, replaces the mart's Delta table in one commit (earlier runs stay readable "
        "with VERSION AS OF) and points the SQL table of the same name at it.",
    )
    parser.add_argument("--events", default=settings.events_path, help="landed events")
    parser.add_argument("--out", default=settings.mart_path(name), help="the mart's table")
    if mart.daily:
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first day")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day")
    parser.add_argument("--show", type=int, default=0, help="print the top N rows")
    parser.add_argument("--no-tables", action="store_true", help="do not register SQL tables")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    spark = spark_session(f"questlog-{name}", settings, catalog=not args.no_tables)
    first, last = getattr(args, "first", None), getattr(args, "last", None)
    # The commit's rows: the whole mart, or the days a ranged run replaced.
    commit = refresh(spark, settings, mart, args.events, args.out, first, last)
    days = f" ({first or '…'} to {last or '…'})" if first or last else ""
    print(f"{name}: {commit.rows} rows{days} -> {args.out} (table version {commit.version})")
    if not args.no_tables:
        register_table(spark, name, args.out)
        register_lake_tables(spark, [name], args.events, settings.quarantine_path)
    if args.show:
        written = read_mart(spark, args.out, commit.version)
        in_mart_order(mart, written).show(args.show, truncate=False)
    spark.stop()
    return 0
