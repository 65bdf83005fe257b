"""The marts, the SQL tables, the notebook and the player endpoint on simulator data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import requests

from lake.io import read_mart, table_version
from runtime.layout import EVENTS_TABLE, QUARANTINE_TABLE, LakeLayout
from runtime.marts import marts_of
from simulator.players import simulate
from tests.helpers.stack import (
    mart_frame,
    rendered_notebook,
    sent_and_landed,
    spark_sql,
    spark_submit,
)

MARTS = marts_of("jobs.marts")
FIRST_DAY = datetime.now(UTC).date() - timedelta(days=4)


@pytest.fixture(scope="module")
def analytics(kafka_admin, webhdfs, lake_settings, tmp_path_factory):
    """Simulated players sent over HTTP, landed, and the four purchase marts computed with
    tables by jobs/run_marts.py (one session; each mart's own entry point runs below)."""
    env = {
        "QUESTLOG_PLAYER_STATE_REFRESH_S": "0",
        # The player endpoint's first read of the marts runs in the background; on a busy
        # machine it may take longer than the 1 s a request waits for it by default.
        "QUESTLOG_PLAYER_STATE_WAIT_S": "60",
    }
    events = list(simulate(players=60, days=4, seed=5, first_day=FIRST_DAY))
    work = tmp_path_factory.mktemp("analytics")
    with sent_and_landed(
        kafka_admin, lake_settings, webhdfs, work, events, env, batch_size=50, single_every=7
    ) as game:
        result = spark_submit("jobs/run_marts.py", *MARTS, env=game["env"], conf=game["conf"])
        yield {"events": events, **game, "log": result.stdout}


def sent_frame(events: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(events)
    frame["event_date"] = pd.to_datetime(frame["client_ts"]).dt.date
    frame["ts"] = pd.to_datetime(frame["client_ts"]).dt.tz_localize(None)
    return frame


def sent_purchases(events: list[dict]) -> pd.DataFrame:
    frame = sent_frame(events)
    buys = frame[frame.event_type == "purchase"].copy()
    buys = buys.join(pd.DataFrame(list(buys["properties"]), index=buys.index))
    buys["amount"] = buys["price"] * buys["quantity"]
    return buys


def test_daily_item_sales_equal_a_pandas_computation(spark, analytics):
    buys = sent_purchases(analytics["events"])
    expected = (
        buys.groupby(["event_date", "item", "currency"])
        .agg(
            purchases=("event_id", "count"),
            units=("quantity", "sum"),
            unique_buyers=("player_id", "nunique"),
            revenue=("amount", "sum"),
        )
        .reset_index()
        .sort_values(["event_date", "item"])
        .reset_index(drop=True)
    )
    actual = mart_frame(spark, analytics["env"], "daily_item_sales")
    actual = actual.sort_values(["event_date", "item"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_dtype=False)


def test_daily_active_players_equal_a_pandas_computation(spark, analytics):
    frame = sent_frame(analytics["events"])
    first = frame.groupby("player_id")["event_date"].min().value_counts()
    expected = pd.DataFrame(
        {
            "active_players": frame.groupby("event_date")["player_id"].nunique(),
            "new_players": first,
            "sessions": frame[frame.event_type == "session_start"].groupby("event_date").size(),
        }
    ).fillna(0)
    actual = mart_frame(spark, analytics["env"], "daily_active_players").set_index("event_date")
    actual = actual.sort_index()[expected.columns]
    pd.testing.assert_frame_equal(
        actual, expected.sort_index(), check_dtype=False, check_names=False
    )


def test_player_inventory_equals_a_pandas_computation(spark, analytics):
    buys = sent_purchases(analytics["events"])
    owned = buys.groupby(["player_id", "item"]).agg(
        quantity=("quantity", "sum"), since=("ts", "min")
    )
    frame = sent_frame(analytics["events"])
    joins = frame[frame.event_type == "join_guild"].sort_values("ts")
    guilds = joins.groupby("player_id").last()["properties"].map(lambda p: p["guild_id"])
    actual = mart_frame(spark, analytics["env"], "player_inventory").set_index("player_id")
    assert set(actual.index) == set(frame.player_id)
    for player_id, row in actual.iterrows():
        mine = {(i["item"], i["quantity"], pd.Timestamp(i["since"])) for i in row["items"]}
        expected = (
            {(item, q, since) for (p, item), (q, since) in owned.iterrows() if p == player_id}
            if player_id in owned.index.get_level_values(0)
            else set()
        )
        assert mine == expected, player_id
        assert row["guild_id"] == guilds.get(player_id), player_id


def test_player_purchases_equal_a_pandas_computation(spark, analytics):
    buys = sent_purchases(analytics["events"])
    frame = sent_frame(analytics["events"])
    expected = (
        frame.groupby("player_id")
        .agg(active_days=("event_date", "nunique"))
        .join(
            buys.groupby("player_id").agg(
                purchases=("event_id", "count"),
                gold_spent=("amount", "sum"),
                first_purchase_at=("ts", "min"),
                last_purchase_at=("ts", "max"),
            )
        )
        .fillna({"purchases": 0, "gold_spent": 0.0})
        .sort_index()
    )
    actual = mart_frame(spark, analytics["env"], "player_purchases").set_index("player_id")
    actual = actual.sort_index()[expected.columns]
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_names=False)


def test_a_rerun_gives_the_same_output_and_the_previous_run_stays_readable(spark, analytics):
    env = analytics["env"]
    path = LakeLayout(env["QUESTLOG_LAKE_ROOT"]).mart_path("player_purchases")
    before = mart_frame(spark, env, "player_purchases").sort_values("player_id")
    previous = table_version(spark, path)
    spark_submit("jobs/player_purchases.py", env=env, conf=analytics["conf"])
    after = mart_frame(spark, env, "player_purchases").sort_values("player_id")
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True))
    assert table_version(spark, path) == previous + 1
    old = read_mart(spark, path, version=previous).drop("computed_at").toPandas()
    pd.testing.assert_frame_equal(
        old.sort_values("player_id").reset_index(drop=True), before.reset_index(drop=True)
    )


def analytics_sql(analytics, query: str) -> str:
    return spark_sql(query, env=analytics["env"], conf=analytics["conf"], cwd=analytics["work"])


def test_marts_and_events_are_sql_tables_found_by_name(spark, analytics):
    tables = analytics_sql(analytics, "SHOW TABLES")
    assert {EVENTS_TABLE, QUARANTINE_TABLE, *MARTS} <= set(tables.split())
    # run_marts computed the marts it was named, and only those.
    computed = {line.split(":")[0] for line in analytics["log"].splitlines() if " rows -> " in line}
    assert computed == set(MARTS)
    assert not set(marts_of("jobs.kpis")) & set(tables.split())
    history = analytics_sql(analytics, "DESCRIBE HISTORY events")
    assert "WRITE" in history.split()
    players = mart_frame(spark, analytics["env"], "player_purchases")
    count = analytics_sql(analytics, "SELECT count(*) FROM player_purchases").split()[-1]
    assert int(count) == len(players)
    landed = analytics_sql(
        analytics, "SELECT count(DISTINCT event_id), count(*) FROM events"
    ).split()
    assert landed[-2:] == [str(len(analytics["events"]))] * 2


def test_a_date_range_recomputes_only_those_days(spark, analytics):
    env = analytics["env"]
    before = mart_frame(spark, env, "daily_item_sales")
    day, other_day = FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)
    extra = [
        {
            "event_type": "purchase",
            "player_id": "late-buyer",
            "client_ts": f"{d.isoformat()}T12:00:00Z",
            "properties": {"item": "crown", "price": 1000, "currency": "gold", "quantity": 1},
        }
        for d in (day, other_day)
    ]
    response = requests.post(f"{analytics['url']}/v1/events", json=extra, timeout=10)
    assert response.status_code == 202
    spark_submit("streaming/land_events.py", "--until-caught-up", env=env)
    spark_submit(
        "jobs/daily_item_sales.py",
        "--from",
        str(day),
        "--to",
        str(day),
        env=env,
        conf=analytics["conf"],
    )
    after = mart_frame(spark, env, "daily_item_sales")
    crowns = after[after.item == "crown"]
    assert list(crowns.event_date) == [day]
    unchanged = (
        after[after.event_date != day].sort_values(["event_date", "item"]).reset_index(drop=True)
    )
    expected = (
        before[before.event_date != day].sort_values(["event_date", "item"]).reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(unchanged, expected)


def test_the_notebook_runs_top_to_bottom_with_its_plots(analytics, tmp_path):
    titles = ["Top items by revenue", "Revenue per day", "whales versus the rest", "Guild sizes"]
    rendered_notebook("player_purchases", analytics["env"], tmp_path, plots=4, titles=titles)


def test_the_player_endpoint_returns_what_the_marts_hold(spark, analytics):
    players = mart_frame(spark, analytics["env"], "player_purchases")
    top = players.sort_values("gold_spent", ascending=False).iloc[0]
    inventory = mart_frame(spark, analytics["env"], "player_inventory").set_index("player_id")
    response = requests.get(f"{analytics['url']}/v1/players/{top.player_id}", timeout=30)
    assert response.status_code == 200
    player = response.json()
    assert player["purchases"]["gold_spent"] == pytest.approx(top.gold_spent)
    owned = {i["item"]: i["quantity"] for i in inventory.loc[top.player_id, "items"]}
    assert {item: v["quantity"] for item, v in player["inventory"].items()} == owned
    assert player["computed_at"]
    assert requests.get(f"{analytics['url']}/v1/players/nobody", timeout=30).status_code == 404


def test_dates_in_the_marts_are_days(spark, analytics):
    days = set(mart_frame(spark, analytics["env"], "daily_active_players").event_date)
    assert days == {FIRST_DAY + timedelta(days=i) for i in range(4)}
    assert all(isinstance(d, date) for d in days)
