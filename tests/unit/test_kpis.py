from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from jobs.kpis import cohort_ltv, daily_kpis, retention, spender_segments
from tests.helpers.events import EVENTS, event

AS_OF = date(2026, 11, 25)  # the first day not over: 24 November is the last complete day
C1, C2 = date(2026, 11, 1), date(2026, 11, 20)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute)


def buy(player, ts, item, price, quantity=1, currency="gold", session=None):
    return event(player, ts, "purchase", session, item, price, quantity, currency)


def sample(spark):
    """Cohort 1 November: ana, cy, dee. Cohort 20 November: bo, eve. fay installs on AS_OF."""
    return spark.createDataFrame(
        [
            # ana's first session crosses midnight: active on 1 and 2 November
            event("ana", at(1, 23, 30), "session_start", "s1"),
            buy("ana", at(1, 23, 40), "sword", 100.0, session="s1"),
            event("ana", at(2, 0, 10), "session_end", "s1"),
            event("ana", at(8, 12), "level_up"),  # day 7
            event("cy", at(1, 10), "session_start", "s2"),
            event("cy", at(1, 10, 30), "session_end", "s2"),
            event("cy", at(15, 9), "session_start", "s3"),  # day 14, a session never ended
            buy("cy", at(15, 9, 5), "armor", 400.0, session="s3"),
            event("dee", at(1, 12), "session_start", "s4"),
            # bo buys but never starts a session; gems are not revenue
            buy("bo", at(20, 10), "horse", 250.0, quantity=2),
            buy("bo", at(20, 10, 1), "dragon_egg", 5.0, currency="gems"),
            buy("bo", at(21, 8), "potion", 5.0),  # day 1
            event("eve", at(20, 15), "session_start", "s5"),
            buy("eve", at(20, 15, 5), "shield", 0.0, session="s5"),  # free: not paying
            event("eve", at(20, 15, 20), "session_end", "s5"),
            event("fay", at(25, 9), "session_start", "s6"),
        ],
        EVENTS,
    )


def test_daily_kpis_on_hand_computed_events(spark):
    def day(d, dau, new, paying, revenue, sessions, avg_length):
        return Row(
            event_date=date(2026, 11, d), dau=dau, new_players=new, paying_players=paying,
            payer_conversion=paying / dau, revenue=revenue, arpdau=revenue / dau,
            arppu=revenue / paying if paying else None, sessions=sessions,
            sessions_per_dau=sessions / dau, avg_session_length_s=avg_length,
        )  # fmt: skip

    actual = daily_kpis(sample(spark))
    expected = spark.createDataFrame(
        [
            # ana's session (40 min) counts on the day it started, with cy's (30 min)
            day(1, dau=3, new=3, paying=1, revenue=100.0, sessions=3, avg_length=2100.0),
            day(2, dau=1, new=0, paying=0, revenue=0.0, sessions=0, avg_length=None),
            day(8, dau=1, new=0, paying=0, revenue=0.0, sessions=0, avg_length=None),
            day(15, dau=1, new=0, paying=1, revenue=400.0, sessions=1, avg_length=None),
            day(20, dau=2, new=2, paying=1, revenue=500.0, sessions=1, avg_length=1200.0),
            day(21, dau=1, new=0, paying=1, revenue=5.0, sessions=0, avg_length=None),
            day(25, dau=1, new=1, paying=0, revenue=0.0, sessions=1, avg_length=None),
        ],
        actual.schema,
    )
    assertDataFrameEqual(actual, expected)


def test_retention_leaves_days_not_yet_over_empty(spark):
    actual = retention(sample(spark), AS_OF)
    expected = spark.createDataFrame(
        [
            # day 30 of 1 November is 1 December, after AS_OF
            Row(cohort_date=C1, cohort_size=3, day_1=1 / 3, day_7=1 / 3, day_14=1 / 3, day_30=None),
            # 20 November: only day 1 (21 November) is over; fay's cohort (AS_OF) is not listed
            Row(cohort_date=C2, cohort_size=2, day_1=1 / 2, day_7=None, day_14=None, day_30=None),
        ],
        actual.schema,
    )
    assertDataFrameEqual(actual, expected)


def test_retention_fills_a_cell_once_its_day_is_over(spark):
    rows = {r.cohort_date: r for r in retention(sample(spark), date(2026, 12, 2)).collect()}
    assert rows[C1].day_30 == 0.0  # 1 December is over and nobody came back that day
    assert rows[C2].day_7 == 0.0
    assert rows[date(2026, 11, 25)].cohort_size == 1


def test_cohort_ltv_is_cumulative_revenue_per_installed_player_for_every_day_over(spark):
    actual = cohort_ltv(sample(spark), AS_OF)
    # 1 November: ana's 100 on day 0, cy's 400 on day 14; days 0..23 are over
    first = [(C1, n, 3, 100.0 if n < 14 else 500.0) for n in range(24)]
    # 20 November: bo's 500 (the free shield and the gems add nothing), 5 on day 1
    second = [(C2, n, 2, 500.0 if n == 0 else 505.0) for n in range(5)]
    expected = spark.createDataFrame(
        [
            Row(cohort_date=c, days_since_install=n, cohort_size=size, cumulative_revenue=r,
                ltv=r / size)
            for c, n, size, r in first + second
        ],
        actual.schema,
    )  # fmt: skip
    assertDataFrameEqual(actual, expected)


def test_spender_segments_rank_payers_and_share_revenue_by_tier(spark):
    actual = spender_segments(sample(spark))
    total = 1005.0

    def player(player_id, spend, rank, segment, share):
        return Row(player_id=player_id, lifetime_spend=spend, spend_rank=rank, segment=segment,
                   segment_revenue_share=share)  # fmt: skip

    expected = spark.createDataFrame(
        [
            # three payers: the top 1 % rounds up to one whale, the next 9 % to nobody more
            player("bo", 505.0, 1, "whale", 505.0 / total),
            player("cy", 400.0, 2, "minnow", 500.0 / total),
            player("ana", 100.0, 3, "minnow", 500.0 / total),
            player("dee", 0.0, None, "non_payer", 0.0),
            player("eve", 0.0, None, "non_payer", 0.0),  # a free item is no spend
            player("fay", 0.0, None, "non_payer", 0.0),
        ],
        actual.schema,
    )
    assertDataFrameEqual(actual, expected)


def test_spender_tiers_hold_one_and_nine_percent_of_payers_and_ties_share_a_rank(spark):
    start = at(1, 0)
    rows = [buy(f"p{i:03d}", start + timedelta(minutes=i), "horse", i * 1.0) for i in range(1, 201)]
    rows.append(buy("twin", start, "sword", 200.0))  # ties with p200 for the top
    rows.append(event("free", start, "session_start", "s"))
    segments = spender_segments(spark.createDataFrame(rows, EVENTS)).collect()
    counts = Counter(r.segment for r in segments)
    segments = {r.player_id: r for r in segments}
    # 201 payers: ceil(2.01) = 3 whales, ranks up to ceil(20.1) = 21 are dolphins
    assert counts == {"whale": 3, "dolphin": 18, "minnow": 180, "non_payer": 1}
    assert segments["p200"].spend_rank == segments["twin"].spend_rank == 1
    assert segments["p199"].spend_rank == 3
    shares = {r.segment: r.segment_revenue_share for r in segments.values()}
    assert sum(shares.values()) == pytest.approx(1.0)
