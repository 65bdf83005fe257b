"""The marts' state: five aggregates of the landed events, each a Delta table that a refresh
brings to the newest `events` version by reading only what changed since the version it
reflects.

Next to `events` (`<lake>/lake/events_state/<name>`):

    player_days            per player and day: sessions started (a row: the player was active)
    purchases              per player, day, item and currency: purchases, units, amount, times
    session_marks          per player, session and day: the day's first start, last end
    last_guilds            per player: the guild joined last, and when
    day_arrivals           per day: events received after it ended, after its allowance too,
                           and the last receipt

Every mart is computed from these (`jobs.inputs.inputs_from`), never from the events.

The first three are partitioned by `event_date`, the day of the events a row sums up, and a
refresh's MERGE reads and rewrites only the days that its changes fall in: a day of new events
and a few days of late ones cost the same whatever the lake's age. A session's marks are
kept per day for that, and combined when read (`jobs.inputs.session_lengths`).

A refresh reads `events`' change data feed from the version after the one a state table
reflects. Inserted rows are aggregated and merged into the table (sums add, first and last
times take the earlier and the later); for the players (or days) that rows were deleted of —
an erasure — the table's rows are derived again from the events as they are now. The MERGE
commit records the new `events` version in its `userMetadata`, so each table moves from one
version to the next exactly once, whatever fails between two of them. A table that is
missing, or whose next versions the feed cannot give (the feed enabled later, history
vacuumed), is derived again from every event: what `--full` does to all of them.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import inputs
from jobs.day_status import arrivals, status_of_days
from lake.files import (
    column_names,
    events_version_of,
    partition_columns,
    table_id,
    table_version,
)
from lake.io import read_events, read_table, retry_on_conflict
from lake.settings import LakeSettings

log = logging.getLogger("questlog.state")

INSERTED = ("insert", "update_postimage")
DELETED = ("delete", "update_preimage")


@dataclass(frozen=True)
class State:
    """One state table: its key, how events become its rows, and how two rows of one key
    combine (SQL over the table's row `t` and the new one `s`)."""

    name: str
    keys: tuple[str, ...]
    derive: Callable[[DataFrame], DataFrame]
    combine: dict[str, str]
    # The column whose values a delete makes derive again from the events.
    scope: str = "player_id"
    # The column the table is partitioned by, one of `keys`: a MERGE reads and rewrites only
    # the partitions its changes fall in.
    partition: str | None = None

    def condition(self) -> str:
        return " AND ".join(f"t.{key} <=> s.{key}" for key in self.keys)


def states(settings: LakeSettings) -> list[State]:
    return [
        State(
            "player_days",
            ("player_id", "event_date"),
            inputs.player_days,
            {"session_starts": "t.session_starts + s.session_starts"},
            partition="event_date",
        ),
        State(
            "purchases",
            ("player_id", "event_date", "item", "currency"),
            inputs.purchases,
            {
                "purchases": "t.purchases + s.purchases",
                "quantity": "t.quantity + s.quantity",
                "amount": "t.amount + s.amount",
                "first_ts": "least(t.first_ts, s.first_ts)",
                "last_ts": "greatest(t.last_ts, s.last_ts)",
            },
            partition="event_date",
        ),
        State(
            "session_marks",
            ("player_id", "session_id", "event_date"),
            inputs.session_marks,
            {"start": "least(t.start, s.start)", "end": "greatest(t.end, s.end)"},
            partition="event_date",
        ),
        State(
            "last_guilds",
            ("player_id",),
            inputs.last_guilds,
            {
                "guild_id": "CASE WHEN s.guild_since > t.guild_since THEN s.guild_id "
                "ELSE t.guild_id END",
                "guild_since": "greatest(t.guild_since, s.guild_since)",
            },
        ),
        State(
            "day_arrivals",
            ("event_date",),
            partial(arrivals, allowance_s=settings.late_arrival_allowance_s),
            {
                "late_events": "t.late_events + s.late_events",
                "late_after_complete": "t.late_after_complete + s.late_after_complete",
                "last_received_at": "greatest(t.last_received_at, s.last_received_at)",
            },
            scope="event_date",
        ),
    ]


def refresh_app_id(state: State, events_id: str) -> str:
    """The Delta transaction id under which a state table's refreshes record the version of
    the `events` table (`events_id`, its Delta table id: a new table starts again at 0)."""
    return f"questlog-state-{state.name}-{events_id}"


def _merge_recording(builder, app_id: str, version: int, spark: SparkSession) -> None:
    """Run the MERGE; its commit records `version`, in its userMetadata and as the version of
    the table's refresh transaction. Two refreshes that read the same reflected version (the
    landing service's and an on-demand run_marts, side by side) would otherwise both merge
    the same changes: Delta skips a MERGE whose transaction version the table has already
    recorded, and fails one that commits beside another. A MERGE takes no commit options:
    these are its session's settings, so each state is refreshed in a session of its own."""
    settings = {
        "spark.databricks.delta.commitInfo.userMetadata": json.dumps({"events_version": version}),
        "spark.databricks.delta.write.txnAppId": app_id,
        "spark.databricks.delta.write.txnVersion": str(version),
    }
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        builder.execute()
    finally:
        for key in settings:
            spark.conf.unset(key)


def rebuild(
    spark: SparkSession,
    state: State,
    path: str,
    events: DataFrame,
    version: int,
    app_id: str | None,
):
    """Derive the table from every event of `version`, replacing it in one commit.

    With `app_id` the commit is that refresh transaction's `version` too, so a MERGE of
    changes up to `version` read before it is skipped. A repair (`--full`) goes without:
    Delta would skip it as done."""
    rows = state.derive(events)
    if state.partition:
        # A file per partition, not one per partition and task.
        rows = rows.repartition(state.partition)
    writer = (
        rows.write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .option("userMetadata", json.dumps({"events_version": version}))
    )
    if state.partition:
        writer = writer.partitionBy(state.partition)
    if app_id:
        writer = writer.option("txnAppId", app_id).option("txnVersion", version)
    writer.save(path)


def changes_since(spark: SparkSession, events_path: str, after: int, upto: int) -> DataFrame:
    """The change data feed of `events` for versions after..upto (after < upto)."""
    return (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", after + 1)
        .option("endingVersion", upto)
        .load(events_path)
    )


def merge_changes(
    spark: SparkSession,
    state: State,
    path: str,
    changes: DataFrame,
    events: DataFrame,
    version: int,
    app_id: str,
) -> None:
    """Bring the table to `version`: merge what was inserted, derive again what was deleted."""
    kind = F.col("_change_type")
    inserted = changes.where(kind.isin(*INSERTED))
    deleted = changes.where(kind.isin(*DELETED)).select(state.scope).distinct()
    redone = [row[0] for row in deleted.collect()]
    scope = F.col(state.scope).isin(redone) if redone else F.lit(False)
    source = state.derive(inserted.where(~scope)).withColumn("_redo", F.lit(False))
    if redone:
        fresh = state.derive(events.where(scope)).withColumn("_redo", F.lit(True))
        source = source.unionByName(fresh)
    columns = [c for c in source.columns if c != "_redo"]
    condition = F.expr(state.condition())
    if state.partition and not redone:
        condition = condition & _within(f"t.{state.partition}", source, state.partition)
    builder = (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedUpdate(condition="s._redo", set={c: f"s.{c}" for c in columns})
        .whenMatchedUpdate(set=state.combine)
        .whenNotMatchedInsert(values={c: f"s.{c}" for c in columns})
    )
    if redone:
        gone = F.col(f"t.{state.scope}").isin(redone)
        builder = builder.whenNotMatchedBySourceDelete(condition=gone)
    _merge_recording(builder, app_id, version, spark)


def _within(column: str, source: DataFrame, partition: str) -> Column:
    """`column` among the values of `partition` in `source`: a condition on the target's
    partitions alone, which lets Delta read and rewrite only those."""
    values = [row[0] for row in source.select(partition).distinct().collect()]
    within = F.col(column).isin([value for value in values if value is not None])
    return within | F.col(column).isNull() if None in values else within


def laid_out(path: str, state: State) -> bool:
    """Whether the table at `path` has the columns and partitions `state` writes (a table
    written by an older questlog may not)."""
    partitions = [state.partition] if state.partition else []
    return partition_columns(path) == partitions and set(state.keys) <= set(column_names(path))


def state_path(events_path: str, name: str) -> str:
    """Where a state table of the `events` table at `events_path` lives: next to it."""
    return f"{events_path.rstrip('/')}_state/{name}"


# Per session, the session each state table is refreshed in: made once and used again, so a
# service refreshing every few seconds does not make new sessions for ever.
_state_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_state_sessions_lock = threading.Lock()


def state_session(spark: SparkSession, name: str) -> SparkSession:
    """The session of `spark`'s Spark context in which the state table `name` is refreshed."""
    with _state_sessions_lock:
        sessions = _state_sessions.setdefault(spark, {})
        if name not in sessions:
            sessions[name] = spark.newSession()
        return sessions[name]


def refresh_states(
    spark: SparkSession, settings: LakeSettings, events_path: str, full: bool = False
) -> int:
    """Bring every state table to the newest `events` version (`full`: derive each from
    every event); that version.

    The tables are refreshed side by side, each in a session of its own (its MERGE's
    userMetadata is a session setting): a small table's time is mostly the driver's, which
    overlaps another's tasks."""
    version = table_version(events_path)
    events_id = table_id(events_path)

    # Another refresh committing beside this one (the landing service's and run_marts') fails
    # it; it reads again what the table reflects then, and goes on from there.
    @retry_on_conflict(4)
    def refresh(state: State) -> None:
        refresh_once(state)

    def refresh_once(state: State) -> None:
        app_id = refresh_app_id(state, events_id)
        session = state_session(spark, state.name)
        events = read_events(session, events_path, version=version)
        path = state_path(events_path, state.name)
        reflected = None if full else events_version_of(path)
        repair = full
        if reflected is not None and not laid_out(path, state):
            # Derived again as a repair: its transaction may have recorded `version` already.
            log.warning("state %s derived again: written in another layout", state.name)
            reflected, repair = None, True
        if reflected == version:
            return
        if reflected is None or reflected > version:
            rebuild(session, state, path, events, version, None if repair else app_id)
            return
        try:
            changes = changes_since(session, events_path, reflected, version)
            merge_changes(session, state, path, changes, events, version, app_id)
        except AnalysisException as error:  # the feed cannot give those versions
            log.warning("state %s derived again from every event: %s", state.name, error)
            rebuild(session, state, path, events, version, app_id)

    tables = states(settings)
    with ThreadPoolExecutor(len(tables)) as pool:
        list(pool.map(refresh, tables))  # the first error is raised here
    return version


def state_inputs(spark: SparkSession, events_path: str) -> inputs.MartInputs:
    """The marts' inputs from the state tables."""

    def table(name: str) -> DataFrame:
        return read_table(spark, state_path(events_path, name))

    return inputs.inputs_from(
        table("player_days"), table("purchases"), table("session_marks"), table("last_guilds")
    )


def day_status(
    spark: SparkSession, settings: LakeSettings, events_path: str, now: datetime
) -> DataFrame:
    """Per landed day, as of `now`: `day_complete`, `late_events`, `late_after_complete`
    (`jobs.day_status`), from the state table `day_arrivals`."""
    table = read_table(spark, state_path(events_path, "day_arrivals"))
    return status_of_days(table, now, settings.late_arrival_allowance_s)
