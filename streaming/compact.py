"""Compaction: `spark-submit streaming/compact.py --date 2026-11-20` rewrites one day's small
files into a few large ones, safe to run while the landing stream runs.

The sink's own files and `_spark_metadata` log are never touched. The day's rows are written
to `<events>_compacted/event_date=<day>/version=<ms>/` with `_sources.json`, the list of sink
files they replace, written last (under a temporary name, then renamed): readers going
through `lake.io.read_events` take the compacted version instead of exactly those files, and
still read any file the stream commits for that day afterwards. No row is lost or doubled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date

from lake.io import (
    SOURCES_FILE,
    VERSION_PREFIX,
    compacted_days,
    compacted_root,
    sink_files,
    write_text_atomically,
)
from lake.session import spark_session
from lake.settings import LakeSettings

ROWS_PER_FILE = 1_000_000


def compact_day(spark, events_path: str, day: date, files: int | None = None) -> dict:
    """Compact one day; returns what was done (files replaced, rows, files written)."""
    previous_path, previous_sources = compacted_days(spark, events_path).get(
        day.isoformat(), (None, set())
    )
    day_files = [f for f in sink_files(spark, events_path) if f"/event_date={day}/" in f]
    new_files = [f for f in day_files if f not in previous_sources]
    if not new_files:
        return {"day": str(day), "replaced": 0, "rows": 0, "written": 0}
    rows = spark.read.option("basePath", events_path).parquet(*new_files).drop("event_date")
    if previous_path:
        rows = rows.unionByName(spark.read.parquet(previous_path))
    rows = rows.cache()
    count = rows.count()
    files = files or max(1, -(-count // ROWS_PER_FILE))
    version_path = (
        f"{compacted_root(events_path)}/event_date={day}/{VERSION_PREFIX}{time.time_ns() // 10**6}"
    )
    rows.repartition(files).write.partitionBy("event_type").parquet(version_path)
    sources = sorted(previous_sources | set(new_files))
    write_text_atomically(spark, f"{version_path}/{SOURCES_FILE}", json.dumps(sources))
    rows.unpersist()
    return {"day": str(day), "replaced": len(new_files), "rows": count, "written": files}


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit streaming/compact.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--date", type=date.fromisoformat, required=True, action="append")
    parser.add_argument("--files", type=int, help="files per event_type (default: 1 per 1M rows)")
    parser.add_argument("--events-path", default=settings.events_path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    spark = spark_session("questlog-compact", settings)
    for day in args.date:
        print(json.dumps(compact_day(spark, args.events_path, day, args.files)))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
