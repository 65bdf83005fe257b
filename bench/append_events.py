"""Append new synthetic events to a lake's `events`, as landing would:
`spark-submit bench/append_events.py EVENTS_PATH COUNT`.

Nine in ten are of today; the others are late: dated up to 3 days back, received now. The
table's change data feed is turned on first if it is not (the landing job creates `events`
with it on).
"""

from __future__ import annotations

import sys

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bench.synthetic_lake import synthetic_events
from lake.session import spark_session
from streaming.sink import CHANGE_FEED


def main() -> int:
    events_path, count = sys.argv[1], int(sys.argv[2])
    spark = spark_session("questlog-bench-append-events")
    append_events(spark, events_path, count)
    spark.stop()
    return 0


def append_events(spark: SparkSession, events_path: str, count: int) -> None:
    """Append `count` synthetic events to `events_path`, a tenth of them late."""
    table = DeltaTable.forPath(spark, events_path)
    if table.detail().first()["properties"].get(CHANGE_FEED) != "true":
        spark.sql(f"ALTER TABLE delta.`{events_path}` SET TBLPROPERTIES ({CHANGE_FEED} = true)")
    late = count // 10
    today = synthetic_events(spark, count - late, days=1)
    back = synthetic_events(spark, late, days=3).withColumn("received_at", F.current_timestamp())
    rows = today.unionByName(back).repartition("event_date")
    rows.write.format("delta").mode("append").save(events_path)


if __name__ == "__main__":
    sys.exit(main())
