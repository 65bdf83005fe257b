"""Right to erasure: `spark-submit jobs/forget_player.py --player ID [--player ID ...]`.

First records the players as erased (`erased_players`: a hash of each player_id and the
erasure's time, `streaming.erased`), so that landing drops their events received up to now
that are still in Kafka, in a batch being written, or in a later replay of the topic. Then
deletes the players' rows received up to now from `events`, and from `quarantine` (a
quarantined record is theirs when its JSON names them as `player_id`, or, for text that is
not JSON, when it contains their id in quotes), recomputes every mart that exists so none
holds them any more, and prints what it removed. The Kafka offsets of the erased rows (no
personal data) go to the `erasures` table, so the completeness audit counts them as erased,
not missing. What a player sends after the erasure lands as usual.

What it cannot reach: older versions of each table keep the rows until VACUUM removes their
files (`spark-submit streaming/compact.py --vacuum`, after the retention), and Kafka keeps the
raw events until the topic's retention deletes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime

from delta.tables import DeltaTable
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from jobs.run_marts import compute_marts
from lake.files import last_commit
from lake.io import retry_on_conflict
from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.marts import MARTS
from streaming.erased import record_erased_players

# The landing service appends to `events` (and to `erasures`) while an erasure writes: a
# delete that read files a concurrent append changed, or the first two writes of a new
# `erasures` table, are refused by Delta and run again. The append cannot bring the erased
# rows back: landing drops what the players sent up to the erasure.
_retry_on_conflict = retry_on_conflict(10)


def quarantined_of(players: list[str]) -> Column:
    """The quarantined records that belong to one of `players`."""
    named = F.get_json_object("raw_value", "$.player_id")
    not_json = F.try_parse_json("raw_value").isNull()
    mentions = F.lit(False)
    for player in players:
        mentions = mentions | F.col("raw_value").contains(json.dumps(player))
    return named.isin(players) | (not_json & mentions)


@_retry_on_conflict
def delete_rows(spark: SparkSession, path: str, condition: Column) -> int:
    """Delete the matching rows of a Delta table in one commit; returns how many."""
    # Tagged, so that its count is read from its own commit, not from one that landing made
    # just after it.
    tag = f"questlog-erasure {uuid.uuid4()}"
    spark.conf.set("spark.databricks.delta.commitInfo.userMetadata", tag)
    try:
        DeltaTable.forPath(spark, path).delete(condition)
    finally:
        spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")
    commits = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 20")
    mine = commits.where(F.col("userMetadata") == tag).first()
    return 0 if mine is None else int(mine["operationMetrics"].get("numDeletedRows", 0))


@_retry_on_conflict
def record_erasures(spark: SparkSession, settings: LakeSettings, conditions: dict) -> None:
    """Append the Kafka offsets about to be erased, so the audit accounts for them."""
    offsets = None
    for path, condition in conditions.items():
        rows = spark.read.format("delta").load(path).where(condition)
        rows = rows.select("kafka_topic", "kafka_partition", "kafka_offset")
        offsets = rows if offsets is None else offsets.unionByName(rows)
    offsets.withColumn("erased_at", F.current_timestamp()).write.format("delta").mode(
        "append"
    ).save(settings.erasures_path)


def forget(spark: SparkSession, settings: LakeSettings, players: list[str]) -> dict:
    """Erase `players` from the lake; returns the erasure's time, the counts removed and the
    marts recomputed."""
    erased_at = datetime.now(UTC)
    # First: from here on landing drops what they sent until now, so no batch written while
    # the rows are deleted brings one back.
    record_erased_players(spark, settings.erased_players_path, players, erased_at)
    conditions = {
        settings.events_path: F.col("player_id").isin(players)
        & (F.col("received_at") <= F.lit(erased_at)),
        settings.quarantine_path: quarantined_of(players),
    }
    record_erasures(spark, settings, conditions)
    removed = {
        "events": delete_rows(spark, settings.events_path, conditions[settings.events_path]),
        "quarantine": delete_rows(
            spark, settings.quarantine_path, conditions[settings.quarantine_path]
        ),
    }
    computed = [name for name in MARTS if DeltaTable.isDeltaTable(spark, settings.mart_path(name))]
    compute_marts(spark, settings, computed, settings.events_path, tables=False, echo=False)
    recomputed = {name: last_commit(settings.mart_path(name)).version for name in computed}
    return {
        "players": players,
        "erased_at": erased_at.isoformat(),
        "rows_removed": removed,
        "marts_recomputed": recomputed,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="spark-submit jobs/forget_player.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--player", action="append", required=True, help="a player_id")
    return parser.parse_args(argv)


def run(spark: SparkSession, settings: LakeSettings, args: argparse.Namespace) -> int:
    """Erase the players of `args` in `spark`; print the report and what it cannot reach."""
    print(json.dumps(forget(spark, settings, args.player)))
    print(
        "not reached: older table versions until VACUUM runs past the retention "
        "(spark-submit streaming/compact.py --vacuum); Kafka until the topic's retention"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spark = spark_session("questlog-forget-player", settings)
    code = run(spark, settings, args)
    spark.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
