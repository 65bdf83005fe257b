"""Fill a topic with distinct valid events: `spark-submit bench/fill_topic.py TOPIC EVENTS`.

Kafka's producer in Spark is many times faster here than kafka-python: a pool of realistic
enriched events (the simulator's) is repeated, each copy with a fresh event_id, so every
record lands and none is dropped as a duplicate.
"""

from __future__ import annotations

import sys

from pyspark.sql import functions as F

from bench.payloads import EVENT_ID_PREFIX, value_pool
from lake.session import spark_session
from lake.settings import LakeSettings


def main() -> int:
    topic, events = sys.argv[1], int(sys.argv[2])
    settings = LakeSettings.from_env()
    spark = spark_session("questlog-bench-fill-topic", settings)
    pool = value_pool(seed=0)
    templates = spark.createDataFrame(
        [(index, key, rest) for index, (key, rest) in enumerate(pool)],
        "template long, key binary, rest binary",
    )
    records = (
        spark.range(0, events, numPartitions=4)
        .withColumn("template", F.col("id") % len(pool))
        .join(F.broadcast(templates), "template")
        .select(
            "key",
            F.concat(F.lit(EVENT_ID_PREFIX), F.expr("uuid()").cast("binary"), "rest").alias(
                "value"
            ),
        )
    )
    (
        records.write.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("kafka.acks", "1")
        .option("kafka.linger.ms", "50")
        .option("kafka.batch.size", str(1024 * 1024))
        .option("topic", topic)
        .save()
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
