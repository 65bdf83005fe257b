"""Every mart in one Spark session: `spark-submit jobs/run_marts.py [--full] --help`.

The state tables are brought to the newest `events` version from what changed since their
last (`jobs.state`; `--full` derives them from every event), the marts' inputs are derived
from them once and kept for all the marts (`jobs.inputs`), and each mart is written and
registered as its own entry point does, several at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from jobs.entry import register_lake_tables, transform, write
from jobs.inputs import MartInputs
from jobs.state import day_status, refresh_states, state_inputs
from lake.files import last_commit
from lake.freshness import TableFreshness, push_marts_freshness
from lake.io import register_table
from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.marts import MARTS

# Marts written at once in one session.
MART_THREADS = 4


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit jobs/run_marts.py",
        description="Compute every mart (or those named) from one read of the landed events, "
        "in one Spark session; replace each mart's Delta table in one commit and point its "
        "SQL table at it. Daily marts are written whole (their entry points take --from/--to).",
    )
    parser.add_argument(
        "marts", nargs="*", metavar="MART", help=f"marts to compute (default: {', '.join(MARTS)})"
    )
    parser.add_argument("--events", default=settings.events_path, help="landed events")
    parser.add_argument(
        "--full",
        action="store_true",
        help="derive the marts' state from every event, not from what changed since it was",
    )
    parser.add_argument("--no-tables", action="store_true", help="do not register SQL tables")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    names = args.marts or list(MARTS)
    unknown = sorted(set(names) - set(MARTS))
    if unknown:
        parser.error(f"unknown mart(s): {', '.join(unknown)}")

    spark = spark_session("questlog-marts", settings, catalog=not args.no_tables)
    compute_marts(spark, settings, names, args.events, tables=not args.no_tables, full=args.full)
    spark.stop()
    return 0


def compute_marts(
    spark: SparkSession,
    settings: LakeSettings,
    names: list[str],
    events_path: str,
    tables: bool,
    full: bool = False,
    echo: bool = True,
    freshness: TableFreshness | None = None,
) -> int:
    """Bring the state to the newest `events` version (`full`: from every event), compute the
    marts `names` from the inputs derived from it once; print each (unless not `echo`). The
    `events` version
    they reflect (each mart's commit records it). The marts' freshness goes to `freshness`
    (a service's own metrics), else to the Pushgateway.

    The marts are written by `MART_THREADS` threads at once: a small mart's time is mostly
    the driver's (planning, the Delta commit), which overlaps another mart's tasks. The SQL
    tables are registered afterwards, one at a time (the catalog is one embedded database).
    """
    started = time.perf_counter()
    version = refresh_states(spark, settings, events_path, full)
    if echo:
        print(f"state: events version {version} ({time.perf_counter() - started:.1f} s)")
    if not names:
        return version
    started = time.perf_counter()
    inputs = kept(state_inputs(spark, events_path))
    # A row per day, read by every daily mart: computed once, before they are written at once.
    days = day_status(spark, settings, events_path, datetime.now(UTC)).cache()
    if any(MARTS[name].daily for name in names):
        days.count()
    if echo:
        print(f"inputs: {time.perf_counter() - started:.1f} s", flush=True)

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
            if echo:
                print(line, flush=True)
    if freshness is not None:
        freshness.marts_written(events_path, names, version)
    else:
        push_marts_freshness(
            settings.pushgateway_url, settings.lake_root, events_path, names, version
        )
    if tables:
        for name in names:
            register_table(spark, name, settings.mart_path(name))
        register_lake_tables(spark, names, events_path, settings.quarantine_path)
    for frame in [*inputs.frames().values(), days]:
        frame.unpersist()
    return version


def kept(inputs: MartInputs) -> MartInputs:
    """The marts' inputs, cached and each computed once now (side by side: one frame's scan
    overlaps another's planning and shuffle)."""
    frames = {
        name: frame.persist(StorageLevel.MEMORY_AND_DISK) for name, frame in inputs.frames().items()
    }
    with ThreadPoolExecutor(len(frames)) as pool:
        list(pool.map(DataFrame.count, frames.values()))
    return MartInputs(**frames)


if __name__ == "__main__":
    sys.exit(main())
