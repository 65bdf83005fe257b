"""Whether each day of the daily marts is complete, and how much of it arrived late.

A day is complete once it is over, the late-arrival allowance after its end has passed, and
landing has caught up past that moment (it has landed an event received after it). Until
then a daily row may still change, and says so. Events received after their day ended are
counted as late; those received after the allowance too came to a day already complete:
a run computes the day again with them, and its row counts them.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

DAY_STATUS_COLUMNS = ("day_complete", "late_events", "late_after_complete")


def arrivals(events: DataFrame, allowance_s: int) -> DataFrame:
    """Per `event_date` of `events` (landed rows with `received_at`): events received after
    the day ended (`late_events`), those received after its allowance too
    (`late_after_complete`), and the last `received_at`."""
    day_end = F.date_add("event_date", 1).cast("timestamp")
    return events.groupBy("event_date").agg(
        F.count_if(F.col("received_at") >= day_end).alias("late_events"),
        F.count_if(F.col("received_at") >= _closes(allowance_s)).alias("late_after_complete"),
        F.max("received_at").alias("last_received_at"),
    )


def _closes(allowance_s: int):
    """When a day's allowance has passed: its end plus the allowance."""
    day_end = F.date_add("event_date", 1).cast("timestamp")
    return F.timestamp_seconds(F.unix_timestamp(day_end) + F.lit(allowance_s))


def status_of_days(arrived: DataFrame, now: datetime, allowance_s: int) -> DataFrame:
    """Per day of `arrived` (`arrivals`): `day_complete`, `late_events`,
    `late_after_complete`, as of `now`."""
    landed_through = arrived.agg(F.max("last_received_at").alias("landed_through"))
    closes = _closes(allowance_s)
    complete = (F.lit(now) >= closes) & (F.col("landed_through") >= closes)
    return arrived.crossJoin(landed_through).select(
        "event_date",
        F.coalesce(complete, F.lit(False)).alias("day_complete"),
        "late_events",
        "late_after_complete",
    )


def day_status(events: DataFrame, now: datetime, allowance_s: int) -> DataFrame:
    """Per `event_date` of `events`: `status_of_days` of their `arrivals`."""
    return status_of_days(arrivals(events, allowance_s), now, allowance_s)


def with_day_status(rows: DataFrame, days: DataFrame) -> DataFrame:
    """A daily mart's rows with their day's status; a day without events is not complete."""
    return rows.join(days, "event_date", "left").fillna(
        {"day_complete": False, "late_events": 0, "late_after_complete": 0}
    )
