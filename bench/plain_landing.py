"""The landing ceiling: a plain batch read of a topic, parsed, written as Parquet.

    spark-submit bench/plain_landing.py TOPIC OUT

No validation, quarantine, dedupe or partitioning: what Spark needs at least to turn the
same Kafka offsets into Parquet rows of the event schema.
"""

from __future__ import annotations

import sys

from pyspark.sql import functions as F

from events.spark_schema import event_schema
from lake.session import spark_session
from lake.settings import LakeSettings


def main() -> int:
    topic, out = sys.argv[1], sys.argv[2]
    settings = LakeSettings.from_env()
    spark = spark_session("questlog-bench-plain-landing", settings)
    records = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    events = records.select(
        F.from_json(F.col("value").cast("string"), event_schema()).alias("event")
    ).select("event.*")
    events.write.mode("overwrite").parquet(out)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
