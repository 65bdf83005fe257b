"""Whether a daily mart's day is complete, on a hand-built calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pyspark.sql import Row

from jobs.day_status import day_status, with_day_status

SIX_HOURS_S = 6 * 3600


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def landed(spark, rows: list[tuple[int, datetime]]):
    """Landed events: (day of November, received_at)."""
    return spark.createDataFrame(
        [Row(event_date=date(2026, 11, day), received_at=received) for day, received in rows],
        "event_date date, received_at timestamp",
    )


CALENDAR = [
    (20, at(20, 10)),  # on time
    (20, at(21, 2)),  # late, within the allowance (the 20th closes on the 21st at 06:00)
    (20, at(21, 8)),  # late, after the 20th was complete
    (21, at(21, 12)),
    (21, at(22, 3)),  # late, within the allowance
    (22, at(22, 11)),  # the newest event landed
]


def statuses(spark, events, now):
    rows = day_status(events, now, SIX_HOURS_S).orderBy("event_date").collect()
    return [(r.event_date.day, r.day_complete, r.late_events, r.late_after_complete) for r in rows]


def test_a_day_is_complete_once_over_past_its_allowance_and_landed_past_it(spark):
    assert statuses(spark, landed(spark, CALENDAR), at(22, 12)) == [
        (20, True, 2, 1),
        (21, True, 1, 0),
        (22, False, 0, 0),  # not over yet
    ]


def test_a_day_past_its_allowance_stays_incomplete_until_landing_catches_up_past_it(spark):
    # Days later, but nothing landed was received after the 22nd closed: landing may lag.
    assert statuses(spark, landed(spark, CALENDAR), at(25, 0))[2] == (22, False, 0, 0)
    caught_up = landed(spark, [*CALENDAR, (24, at(24, 9))])
    assert statuses(spark, caught_up, at(25, 0))[2] == (22, True, 0, 0)


def test_a_mart_row_of_a_day_without_status_is_not_complete(spark):
    rows = spark.createDataFrame(
        [
            Row(event_date=date(2026, 11, 20), revenue=5.0),
            Row(event_date=date(2026, 11, 23), revenue=1.0),
        ]
    )
    days = day_status(landed(spark, CALENDAR), at(22, 12), SIX_HOURS_S)
    flagged = with_day_status(rows, days).orderBy("event_date").collect()
    assert [(r.revenue, r.day_complete, r.late_events) for r in flagged] == [
        (5.0, True, 2),
        (1.0, False, 0),
    ]
