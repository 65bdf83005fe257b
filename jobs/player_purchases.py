"""Per-player purchase mart: `spark-submit jobs/player_purchases.py [--events P] [--out P]`."""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import functions as F

from jobs.marts import player_purchases
from lake.io import read_events, write_mart
from lake.session import spark_session
from lake.settings import LakeSettings


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit jobs/player_purchases.py",
        description="Per player: purchases in total and per item, spend per currency, "
        "first and last purchase, distinct items, active days. Recomputed whole each run.",
    )
    parser.add_argument("--events", default=settings.events_path, help="landed events")
    parser.add_argument("--out", default=settings.mart_path("player_purchases"))
    parser.add_argument("--show", type=int, default=0, help="print the top N spenders")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    spark = spark_session("questlog-player-purchases", settings)
    mart = player_purchases(read_events(spark, args.events)).withColumn(
        "computed_at", F.current_timestamp()
    )
    path = write_mart(spark, mart, args.out)
    written = spark.read.parquet(path)
    print(f"player_purchases: {written.count()} players -> {path}")
    if args.show:
        written.orderBy(F.desc("gold_spent"), "player_id").show(args.show, truncate=False)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
