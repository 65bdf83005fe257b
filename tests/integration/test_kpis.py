"""The KPI marts on simulator data (the `game` fixture: sent over HTTP, landed once, every
mart computed in one session by jobs/pipeline.py).

Each KPI is computed again here with pandas from what the simulator sent, independently of
`jobs/kpis.py`, and must give the same numbers.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
import requests

from tests.helpers.stack import mart_frame, rendered_notebook


def sent(events: list[dict]) -> pd.DataFrame:
    """What the simulator sent, dated by client_ts in UTC, with each purchase's amount."""
    frame = pd.DataFrame(events)
    frame["ts"] = pd.to_datetime(frame["client_ts"]).dt.tz_localize(None)
    frame["event_date"] = frame["ts"].dt.date
    props = pd.DataFrame(list(frame["properties"]), index=frame.index)
    frame["amount"] = (props["price"] * props["quantity"]).where(props["currency"] == "gold")
    return frame


def installs(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("player_id")["event_date"].min()


def test_the_simulated_data_holds_the_cases_the_kpis_must_get_right(game):
    frame = sent(game["events"])
    buyers = set(frame[frame.event_type == "purchase"].player_id)
    assert buyers - set(frame[frame.event_type == "session_start"].player_id)
    ends = frame[frame.event_type.isin(["session_start", "session_end"])]
    days_per_session = ends.groupby("session_id")["event_date"].nunique()
    assert (days_per_session > 1).any()  # a session on both sides of midnight UTC
    assert "retention: " in game["log"] and "spender_segments: " in game["log"]
    assert "complete: every committed offset" in game["log"]


def test_daily_kpis_equal_a_pandas_computation(spark, game):
    frame = sent(game["events"])
    buys = frame[frame.amount.notna()]
    session = ["player_id", "session_id"]
    starts = frame[frame.event_type == "session_start"].groupby(session)["ts"].min()
    ends = frame[frame.event_type == "session_end"].groupby(session)["ts"].max()
    both = pd.concat({"start": starts, "end": ends}, axis=1, join="inner")
    both = both[both.end >= both.start]
    lengths = (both.end - both.start).dt.total_seconds()
    expected = pd.DataFrame(
        {
            "dau": frame.groupby("event_date")["player_id"].nunique(),
            "new_players": installs(frame).value_counts(),
            "paying_players": buys[buys.amount > 0].groupby("event_date")["player_id"].nunique(),
            "revenue": buys.groupby("event_date")["amount"].sum(),
            "sessions": frame[frame.event_type == "session_start"].groupby("event_date").size(),
        }
    ).fillna(0)
    expected["payer_conversion"] = expected.paying_players / expected.dau
    expected["arpdau"] = expected.revenue / expected.dau
    expected["arppu"] = (expected.revenue / expected.paying_players).where(
        expected.paying_players > 0
    )
    expected["sessions_per_dau"] = expected.sessions / expected.dau
    expected["avg_session_length_s"] = lengths.groupby(both.start.dt.date).mean()
    actual = mart_frame(spark, game["env"], "daily_kpis").set_index("event_date").sort_index()
    pd.testing.assert_frame_equal(
        actual[expected.columns], expected.sort_index(), check_dtype=False, check_names=False
    )


def test_retention_equals_a_pandas_computation_with_days_not_over_left_empty(spark, game):
    frame, as_of = sent(game["events"]), game["as_of"]
    first = installs(frame)
    over = first[first < as_of]  # cohorts whose install day is over
    active = set(zip(frame.player_id, frame.event_date, strict=True))
    rows = []
    for cohort, players in over.groupby(over):
        row = {"cohort_date": cohort, "cohort_size": len(players)}
        for n in (1, 7, 14, 30):
            day = cohort + timedelta(days=n)
            returned = sum((p, day) in active for p in players.index)
            row[f"day_{n}"] = returned / len(players) if day < as_of else math.nan
        rows.append(row)
    expected = pd.DataFrame(rows).set_index("cohort_date")
    actual = mart_frame(spark, game["env"], "retention").set_index("cohort_date").sort_index()
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_names=False)
    assert actual.day_30.isna().all()  # no cohort's day 30 is over yet
    assert math.isnan(actual.day_1.iloc[-1])  # yesterday's cohort: its day 1 is today
    assert actual.day_7.notna().any()


def test_cohort_ltv_equals_a_pandas_computation(spark, game):
    frame, as_of = sent(game["events"]), game["as_of"]
    first = installs(frame)
    over = first[first < as_of]
    buys = frame[frame.amount.notna()].join(first.rename("cohort"), on="player_id")
    rows = []
    for cohort, players in over.groupby(over):
        mine = buys[buys.cohort == cohort]
        for n in range((as_of - cohort).days):
            revenue = mine[mine.event_date <= cohort + timedelta(days=n)].amount.sum()
            rows.append((cohort, n, len(players), revenue, revenue / len(players)))
    columns = ["cohort_date", "days_since_install", "cohort_size", "cumulative_revenue", "ltv"]
    expected = pd.DataFrame(rows, columns=columns)
    actual = mart_frame(spark, game["env"], "cohort_ltv")
    actual = actual.sort_values(columns[:2]).reset_index(drop=True)[columns]
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_spender_segments_equal_a_pandas_computation(spark, game):
    frame = sent(game["events"])
    spend = frame.groupby("player_id")["amount"].sum(min_count=1).fillna(0.0)
    payers = spend[spend > 0]
    rank = payers.rank(method="min", ascending=False)
    whale, dolphin = -(-len(payers) * 1 // 100), -(-len(payers) * 10 // 100)
    segment = pd.Series("non_payer", index=spend.index)
    segment[rank.index] = "minnow"
    segment[rank[rank <= dolphin].index] = "dolphin"
    segment[rank[rank <= whale].index] = "whale"
    share = spend.groupby(segment).sum() / spend.sum()
    expected = pd.DataFrame(
        {
            "lifetime_spend": spend,
            "spend_rank": rank.reindex(spend.index),
            "segment": segment,
            "segment_revenue_share": segment.map(share),
        }
    ).sort_index()
    actual = mart_frame(spark, game["env"], "spender_segments").set_index("player_id")
    pd.testing.assert_frame_equal(
        actual.sort_index()[expected.columns], expected, check_dtype=False, check_names=False
    )
    assert set(segment) == {"whale", "dolphin", "minnow", "non_payer"}


def test_the_kpi_notebook_runs_top_to_bottom_with_its_plots(game, tmp_path):
    titles = ["Retention heatmap", "LTV curves", "ARPDAU and payer conversion", "Revenue share"]
    rendered_notebook("kpis", game["env"], tmp_path, plots=5, titles=titles)


def test_the_player_endpoint_gives_a_players_segment_and_spend_rank(spark, game):
    segments = mart_frame(spark, game["env"], "spender_segments")
    whale = segments[segments.segment == "whale"].sort_values("spend_rank").iloc[0]
    player = requests.get(f"{game['url']}/v1/players/{whale.player_id}", timeout=30).json()
    assert player["spending"] == {
        "segment": "whale",
        "lifetime_spend": pytest.approx(whale.lifetime_spend),
        "spend_rank": 1,
    }


def test_daily_rows_say_whether_their_day_is_complete_and_how_much_came_late(spark, game):
    frame = sent(game["events"])
    rows = mart_frame(spark, game["env"], "daily_kpis").set_index("event_date").sort_index()
    yesterday = game["as_of"] - timedelta(days=1)
    # Yesterday is still inside its day of late-arrival allowance; the days before are over,
    # past it, and landed past it (the events were received today).
    assert dict(rows.day_complete) == {day: day < yesterday for day in rows.index}
    # Sent today, every event arrived after its day had ended.
    assert dict(rows.late_events) == frame.groupby("event_date").size().to_dict()
