"""Every mart in one Spark session: `spark-submit jobs/run_marts.py --help`.

The landed events are read once and kept (on local disk) for all the marts; each mart is
written and registered as its own entry point does. One JVM and session start instead of one
per mart is most of the time saved; writing several marts at once saves most of the rest.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from jobs.entry import register_lake_tables, transform, write
from lake.io import last_commit, read_events, register_table
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
) -> None:
    """Compute the marts `names` in `spark` from one read of the events; print each.

    The marts are written by `MART_THREADS` threads at once: a small mart's time is mostly
    the driver's (planning, the Delta commit), which overlaps another mart's tasks. The SQL
    tables are registered afterwards, one at a time (the catalog is one embedded database).
    """
    # Only the columns the marts read (the lineage and the request context are most of a
    # row), kept on local disk: at 10M events a memory cache beside four marts' plans runs a
    # 2 GB driver out of memory, and a cache of whole rows costs more than the marts' own
    # column-pruned scans.
    events = read_events(spark, events_path).select(*MART_INPUT_COLUMNS)
    events = events.persist(StorageLevel.DISK_ONLY)
    events.count()  # fill the cache once, before the marts read it side by side

    def compute(name: str) -> None:
        started = time.perf_counter()
        out = settings.mart_path(name)
        write(MARTS[name], transform(MARTS[name], events), out, None, None)
        # The commit's own metrics: a full overwrite wrote every row of the mart.
        version, count = last_commit(spark, out)
        elapsed = time.perf_counter() - started
        print(f"{name}: {count} rows -> {out} (table version {version}, {elapsed:.1f} s)")

    with ThreadPoolExecutor(MART_THREADS) as pool:
        # list(): re-raise the first mart's error here.
        list(pool.map(compute, names))
    if tables:
        for name in names:
            register_table(spark, name, settings.mart_path(name))
        register_lake_tables(spark, names, events_path, settings.quarantine_path)
    events.unpersist()


if __name__ == "__main__":
    sys.exit(main())
