"""What the marts read, derived from the landed events: pure transforms, `DataFrame -> DataFrame`.

Every mart is computed from these few frames, each far smaller than the events it comes
from, rather than from the events themselves. They come from four aggregates of the events
that new events update by merging (`jobs.state` keeps each as a Delta table): a refresh reads
only the events landed since the last, and no mart scans the events.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True, kw_only=True)
class MartInputs:
    """The frames every mart is computed from, all derived from the same landed events."""

    # Per player seen: their install day (`cohort_date`, the first day they were active) and
    # the number of days they were active.
    players: DataFrame
    # Per UTC day: the players active that day and the sessions started.
    days: DataFrame
    # Per install cohort and UTC day: the cohort's players active that day.
    cohort_days: DataFrame
    # Purchases per player, day, item and currency: count, units, amount, first and last time.
    purchases: DataFrame
    # Sessions with a start and an end: the day they started and their length in seconds.
    session_lengths: DataFrame
    # Per player who joined a guild: the guild joined last and when.
    last_guilds: DataFrame

    def frames(self) -> dict[str, DataFrame]:
        """Each frame by its field's name."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def player_days(events: DataFrame) -> DataFrame:
    """(player, day) for each UTC day a player sent any event, with the sessions started."""
    return events.groupBy("player_id", "event_date").agg(
        F.count(F.when(F.col("event_type") == "session_start", True)).alias("session_starts")
    )


def purchases(events: DataFrame) -> DataFrame:
    """Purchase events per player, day, item and currency: purchases, units (quantity),
    amount spent (price x quantity), and the first and last purchase's time."""
    return (
        events.where(F.col("event_type") == "purchase")
        .groupBy(
            "player_id",
            "event_date",
            F.col("properties.item").alias("item"),
            F.col("properties.currency").alias("currency"),
        )
        .agg(
            F.count(F.lit(1)).alias("purchases"),
            F.sum("properties.quantity").alias("quantity"),
            F.sum(F.col("properties.price") * F.col("properties.quantity")).alias("amount"),
            F.min("event_ts").alias("first_ts"),
            F.max("event_ts").alias("last_ts"),
        )
    )


def session_marks(events: DataFrame) -> DataFrame:
    """Per player, session_id and UTC day: the day's first session_start's and last
    session_end's time (a session over midnight has a row for each day)."""
    return (
        events.where(F.col("event_type").isin("session_start", "session_end"))
        .where(F.col("session_id").isNotNull())
        .groupBy("player_id", "session_id", "event_date")
        .agg(
            F.min(F.when(F.col("event_type") == "session_start", F.col("event_ts"))).alias("start"),
            F.max(F.when(F.col("event_type") == "session_end", F.col("event_ts"))).alias("end"),
        )
    )


def session_lengths(marks: DataFrame) -> DataFrame:
    """Sessions with a start and an end (`session_marks`, a session's days combined): start
    day and seconds."""
    sessions = marks.groupBy("player_id", "session_id").agg(
        F.min("start").alias("start"), F.max("end").alias("end")
    )
    return sessions.where(F.col("start").isNotNull() & (F.col("end") >= F.col("start"))).select(
        F.to_date("start").alias("event_date"),
        ((F.unix_micros("end") - F.unix_micros("start")) / 1e6).alias("length_s"),
    )


def last_guilds(events: DataFrame) -> DataFrame:
    """Per player who joined a guild: the guild they joined last and when."""
    return (
        events.where(F.col("event_type") == "join_guild")
        .groupBy("player_id")
        .agg(F.max_by(F.struct("event_ts", "properties.guild_id"), "event_ts").alias("last"))
        .select(
            "player_id",
            F.col("last.guild_id").alias("guild_id"),
            F.col("last.event_ts").alias("guild_since"),
        )
    )


def players(player_days: DataFrame) -> DataFrame:
    """Per player seen: the first UTC day they were active and how many days they were."""
    return player_days.groupBy("player_id").agg(
        F.min("event_date").alias("cohort_date"), F.count("event_date").alias("active_days")
    )


def days(player_days: DataFrame) -> DataFrame:
    """Per UTC day: the players active that day and the sessions started."""
    return player_days.groupBy("event_date").agg(
        # Not count(*): as a count of distinct players, a null player_id is nobody.
        F.count("player_id").alias("active_players"),
        F.sum("session_starts").alias("sessions"),
    )


def cohort_days(player_days: DataFrame, players: DataFrame) -> DataFrame:
    """Per install cohort and UTC day: how many of the cohort's players were active that day."""
    return (
        player_days.join(players.select("player_id", "cohort_date"), "player_id")
        .groupBy("cohort_date", "event_date")
        .agg(F.count(F.lit(1)).alias("players"))
    )


def inputs_from(
    played: DataFrame, bought: DataFrame, marks: DataFrame, guilds: DataFrame
) -> MartInputs:
    """The marts' inputs from the four frames they come from (`jobs.state` keeps each as a
    table): `player_days`, `purchases`, `session_marks` and `last_guilds`."""
    seen = players(played)
    return MartInputs(
        players=seen,
        days=days(played),
        cohort_days=cohort_days(played, seen),
        purchases=bought,
        session_lengths=session_lengths(marks),
        last_guilds=guilds,
    )


def mart_inputs(events: DataFrame) -> MartInputs:
    """The marts' inputs derived from the landed events."""
    return inputs_from(
        player_days(events), purchases(events), session_marks(events), last_guilds(events)
    )


def inputs_of(events: DataFrame | MartInputs) -> MartInputs:
    """`events` when already derived, else the inputs derived from these landed events."""
    return events if isinstance(events, MartInputs) else mart_inputs(events)
