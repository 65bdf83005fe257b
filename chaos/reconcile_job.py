"""Exact reconciliation: `spark-submit chaos/reconcile_job.py <accepted ids> [<erased ids>]`.

Reads the event_ids the ingest service answered 202 for (one per line, a local file) and the
lake through lake.io.read_events, and prints one JSON line: how many were acknowledged, how
many rows landed, how many acknowledged ids are missing, and how many ids landed more than
once; with a file of erased event_ids, also how many of them are in the lake (`resurfaced`).
Exits 1 unless the missing, the repeated and the resurfaced are all 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lake.io import read_events
from lake.session import spark_session
from lake.settings import LakeSettings

LINE_PREFIX = "RECONCILE "


def ids_in(spark: SparkSession, ids_file: Path):
    """The event_ids of a local file, one per line."""
    return spark.read.text(f"file://{ids_file.resolve()}").select(F.col("value").alias("event_id"))


def reconcile(
    spark: SparkSession, events_path: str, accepted_file: Path, erased_file: Path | None = None
) -> dict:
    """The acknowledged ids of `accepted_file` against the landed events: counts, and up to
    five lost ids; and how many ids of `erased_file` landed (resurfaced) when given."""
    accepted = ids_in(spark, accepted_file)
    landed = read_events(spark, events_path).select("event_id")
    counts = landed.groupBy("event_id").count().cache()
    missing = accepted.join(counts, "event_id", "left_anti").distinct()
    result = {
        "acknowledged": accepted.distinct().count(),
        "landed_rows": landed.count(),
        "lost": missing.count(),
        "landed_twice": counts.where(F.col("count") > 1).count(),
        "lost_examples": [row.event_id for row in missing.limit(5).collect()],
    }
    if erased_file is not None:
        resurfaced = ids_in(spark, erased_file).join(counts, "event_id", "left_semi")
        result["resurfaced"] = resurfaced.count()
        result["resurfaced_examples"] = [row.event_id for row in resurfaced.limit(5).collect()]
    counts.unpersist()
    return result


def main(argv: list[str]) -> int:
    settings = LakeSettings.from_env()
    spark = spark_session("questlog-chaos-reconcile", settings)
    erased_file = Path(argv[1]) if len(argv) > 1 else None
    result = reconcile(spark, settings.events_path, Path(argv[0]), erased_file)
    print(LINE_PREFIX + json.dumps(result), flush=True)
    spark.stop()
    clean = result["lost"] == 0 and result["landed_twice"] == 0
    return 0 if clean and not result.get("resurfaced") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
