"""Players erased on request, and which of their events landing must never write again.

`jobs/forget_player.py` appends each player it erases to the Delta table `erased_players`
before it deletes anything: the sha256 of the player_id (no personal data) and `erased_at`,
the erasure's time. An event of that player received at or before `erased_at` belongs to the
erasure wherever it still is — in Kafka not landed yet, in a batch being written while the
erasure runs, or in a replay of the topic — and landing drops it, recording its offset in
`erasures` so the audit counts it as erased. What the player sends after the erasure lands as
any event does.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

ERASED_PLAYERS_SCHEMA = "player_hash string, erased_at timestamp"


def player_hash(player_id: str) -> str:
    """The sha256 (hex) of a player_id, as `erased_players` keeps it."""
    return hashlib.sha256(player_id.encode()).hexdigest()


def player_hash_column(player_id: Column) -> Column:
    """`player_hash` of a column, in Spark."""
    return F.sha2(player_id, 256)


def read_erased_players(path: str) -> list[tuple[str, datetime]]:
    """(player_hash, erased_at) of every erasure, from the table's log and files without a
    Spark job; none when nobody was ever erased."""
    try:
        table = DeltaTable(path).to_pyarrow_table(columns=["player_hash", "erased_at"])
    except TableNotFoundError:
        return []
    return list(zip(table["player_hash"].to_pylist(), table["erased_at"].to_pylist(), strict=True))


def erased_frame(spark: SparkSession, erased: list[tuple[str, datetime]]) -> DataFrame:
    """The erasures as a (small) DataFrame, from literals: no Python task builds it, so a job
    without Python workers (the erasure) can make it too."""
    if not erased:
        return spark.createDataFrame([], ERASED_PLAYERS_SCHEMA)
    rows = [
        F.struct(F.lit(hashed).alias("player_hash"), F.lit(at).alias("erased_at"))
        for hashed, at in erased
    ]
    return spark.range(1).select(F.inline(F.array(*rows)))


def _erased_condition(events: DataFrame, erased: DataFrame) -> tuple[DataFrame, Column]:
    """The latest erasure of each player, and the join condition that picks their events
    received at or before it."""
    latest = erased.groupBy("player_hash").agg(F.max("erased_at").alias("erased_at"))
    latest = F.broadcast(latest)
    condition = (player_hash_column(events["player_id"]) == latest["player_hash"]) & (
        events["received_at"] <= latest["erased_at"]
    )
    return latest, condition


def erased_events(events: DataFrame, erased: DataFrame) -> DataFrame:
    """The events that belong to an erasure: their player was erased at or after their
    receipt."""
    latest, condition = _erased_condition(events, erased)
    return events.join(latest, condition, "left_semi")


def without_erased(events: DataFrame, erased: DataFrame) -> DataFrame:
    """The events that belong to no erasure."""
    latest, condition = _erased_condition(events, erased)
    return events.join(latest, condition, "left_anti")


def record_erased_players(
    spark: SparkSession, path: str, players: list[str], erased_at: datetime
) -> None:
    """Append the players' hashes with the erasure's time (creating the table the first time)."""
    rows = [(player_hash(player), erased_at) for player in players]
    erased_frame(spark, rows).write.format("delta").mode("append").save(path)
