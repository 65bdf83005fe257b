"""Every mart in one Spark session: `spark-submit jobs/run_marts.py --help`.

What the marts read is derived from the landed events once and kept for all the marts
(`jobs.inputs`); each mart is written and registered as its own entry point does. One JVM and
session start instead of one per mart, and one derivation of their inputs instead of one per
mart, is most of the time saved; writing several marts at once saves most of the rest.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from jobs.entry import days_of, register_lake_tables, transform, write
from jobs.inputs import MartInputs, mart_inputs, player_days
from lake.files import last_commit, table_version
from lake.io import read_events, register_table
from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.marts import MART_INPUT_COLUMNS, MARTS

# Marts written at once in one session.
MART_THREADS = 4


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit jobs/run_marts.py",
        description="Compute every mart (or those named) from one read of the landed events, "
        "in one Spark session; replace each mart's Delta table in one commit and point its "
        "SQL table at it. Daily marts are computed whole (their entry points take --from/--to).",
    )
    parser.add_argument(
        "marts", nargs="*", metavar="MART", help=f"marts to compute (default: {', '.join(MARTS)})"
    )
    parser.add_argument("--events", default=settings.events_path, help="landed events")
    parser.add_argument("--no-tables", action="store_true", help="do not register SQL tables")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    names = args.marts or list(MARTS)
    unknown = sorted(set(names) - set(MARTS))
    if unknown:
        parser.error(f"unknown mart(s): {', '.join(unknown)}")

    spark = spark_session("questlog-marts", settings, catalog=not args.no_tables)
    compute_marts(spark, settings, names, args.events, tables=not args.no_tables)
    spark.stop()
    return 0


def compute_marts(
    spark: SparkSession, settings: LakeSettings, names: list[str], events_path: str, tables: bool
) -> int:
    """Compute the marts `names` in `spark` from the inputs derived once; print each. The
    `events` version they reflect (each mart's commit records it).

    The marts are written by `MART_THREADS` threads at once: a small mart's time is mostly
    the driver's (planning, the Delta commit), which overlaps another mart's tasks. The SQL
    tables are registered afterwards, one at a time (the catalog is one embedded database).
    """
    version = table_version(events_path)
    events = read_events(spark, events_path, version=version).select(*MART_INPUT_COLUMNS)
    inputs = kept(events)
    # A row per day, read by every daily mart: computed once, before they are written at once.
    days = days_of(spark, settings, events_path, version).cache()
    if any(MARTS[name].daily for name in names):
        days.count()

    def compute(name: str) -> str:
        started = time.perf_counter()
        out = settings.mart_path(name)
        write(MARTS[name], transform(MARTS[name], inputs), out, None, None, days, version)
        # Read from the log, not by a Spark job that would queue behind the other marts' jobs;
        # a full overwrite wrote every row of the mart.
        commit = last_commit(out)
        elapsed = time.perf_counter() - started
        return (
            f"{name}: {commit.rows} rows -> {out} (table version {commit.version}, {elapsed:.1f} s)"
        )

    with ThreadPoolExecutor(MART_THREADS) as pool:
        # Printed from this thread, in the marts' order: the lines of marts written at once
        # never run into each other. The first mart's error is raised here.
        for line in pool.map(compute, names):
            print(line, flush=True)
    if tables:
        for name in names:
            register_table(spark, name, settings.mart_path(name))
        register_lake_tables(spark, names, events_path, settings.quarantine_path)
    for frame in [*inputs.frames().values(), days]:
        frame.unpersist()
    return version


def kept(events: DataFrame) -> MartInputs:
    """The marts' inputs derived from `events`, cached and each computed once now.

    Each is a fraction of the events' size, so memory holds them, and no mart scans the
    events again (a cache of the events themselves had to go to disk at 10M events). The
    per-player-day frame that three of them come from is the largest and costliest; it is
    kept only until they are computed.
    """
    played = player_days(events).persist(StorageLevel.MEMORY_AND_DISK)
    inputs = mart_inputs(events, played)
    frames = {
        name: frame.persist(StorageLevel.MEMORY_AND_DISK) for name, frame in inputs.frames().items()
    }
    # Side by side: one frame's scan overlaps another's planning and shuffle.
    with ThreadPoolExecutor(len(frames)) as pool:
        list(pool.map(DataFrame.count, frames.values()))
    played.unpersist()
    return MartInputs(**frames)


if __name__ == "__main__":
    sys.exit(main())
