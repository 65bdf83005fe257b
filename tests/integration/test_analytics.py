"""The purchase marts, the SQL tables, the notebook and the player endpoint on simulator data
(the `game` fixture: sent over HTTP, landed and computed by jobs/pipeline.py)."""

from __future__ import annotations

import contextlib
import io
import os
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import requests
from deltalake import DeltaTable

from jobs.entry import refresh
from jobs.run_marts import compute_marts
from lake.io import read_mart, table_version
from lake.settings import LakeSettings
from runtime.layout import EVENTS_TABLE, QUARANTINE_TABLE, LakeLayout
from runtime.marts import MARTS
from simulator.players import simulate
from tests.helpers.stack import (
    land,
    mart_frame,
    rendered_notebook,
    sent_over_http,
    spark_sql,
)
from tests.integration.conftest import GAME_DAYS


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


def test_daily_item_sales_equal_a_pandas_computation(spark, game):
    buys = sent_purchases(game["events"])
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
    actual = mart_frame(spark, game["env"], "daily_item_sales")
    actual = actual.sort_values(["event_date", "item"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_dtype=False)


def test_daily_active_players_equal_a_pandas_computation(spark, game):
    frame = sent_frame(game["events"])
    first = frame.groupby("player_id")["event_date"].min().value_counts()
    expected = pd.DataFrame(
        {
            "active_players": frame.groupby("event_date")["player_id"].nunique(),
            "new_players": first,
            "sessions": frame[frame.event_type == "session_start"].groupby("event_date").size(),
        }
    ).fillna(0)
    actual = mart_frame(spark, game["env"], "daily_active_players").set_index("event_date")
    actual = actual.sort_index()[expected.columns]
    pd.testing.assert_frame_equal(
        actual, expected.sort_index(), check_dtype=False, check_names=False
    )


def test_player_inventory_equals_a_pandas_computation(spark, game):
    buys = sent_purchases(game["events"])
    owned = buys.groupby(["player_id", "item"]).agg(
        quantity=("quantity", "sum"), since=("ts", "min")
    )
    frame = sent_frame(game["events"])
    joins = frame[frame.event_type == "join_guild"].sort_values("ts")
    guilds = joins.groupby("player_id").last()["properties"].map(lambda p: p["guild_id"])
    actual = mart_frame(spark, game["env"], "player_inventory").set_index("player_id")
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


def test_player_purchases_equal_a_pandas_computation(spark, game):
    buys = sent_purchases(game["events"])
    frame = sent_frame(game["events"])
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
    actual = mart_frame(spark, game["env"], "player_purchases").set_index("player_id")
    actual = actual.sort_index()[expected.columns]
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_names=False)


def test_a_rerun_gives_the_same_output_and_the_previous_run_stays_readable(spark, game):
    env = game["env"]
    path = LakeLayout(env["QUESTLOG_LAKE_ROOT"]).mart_path("player_purchases")
    before = mart_frame(spark, env, "player_purchases").sort_values("player_id")
    previous = table_version(spark, path)
    settings = LakeSettings.from_env({**os.environ, **env})
    refresh(spark, settings, MARTS["player_purchases"], settings.events_path, path)
    after = mart_frame(spark, env, "player_purchases").sort_values("player_id")
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True))
    assert table_version(spark, path) == previous + 1
    old = read_mart(spark, path, version=previous).drop("computed_at").toPandas()
    pd.testing.assert_frame_equal(
        old.sort_values("player_id").reset_index(drop=True), before.reset_index(drop=True)
    )


def test_marts_and_events_are_sql_tables_found_by_name(spark, game):
    """One spark-sql session, as an analyst would open it, finds every table by name."""
    output = spark_sql(
        "SHOW TABLES; DESCRIBE HISTORY events; "
        "SELECT 'players', count(*) FROM player_purchases; "
        "SELECT 'retention rows', count(*) FROM retention; "
        "SELECT 'events', count(DISTINCT event_id), count(*) FROM events",
        env=game["env"],
        conf=game["conf"],
        cwd=game["work"],
        timeout=600,
    )
    assert {EVENTS_TABLE, QUARANTINE_TABLE, *MARTS} <= set(output.split())
    assert "WRITE" in output.split()
    counted = {line.split("\t")[0]: line.split("\t")[1:] for line in output.splitlines()}
    assert counted["players"] == [str(len(mart_frame(spark, game["env"], "player_purchases")))]
    assert counted["retention rows"] == [str(len(mart_frame(spark, game["env"], "retention")))]
    assert counted["events"] == [str(len(game["events"]))] * 2
    # jobs/pipeline.py computed every mart of the registry.
    computed = {line.split(":")[0] for line in game["log"].splitlines() if " rows -> " in line}
    assert computed == set(MARTS)


@pytest.fixture
def small_game(spark, kafka_admin, lake_settings, webhdfs, tmp_path):
    """A few simulated players over four days, sent over HTTP and landed in a lake of their
    own (this test changes it)."""
    first_day = datetime.now(UTC).date() - timedelta(days=4)
    events = list(simulate(players=20, days=4, seed=5, first_day=first_day))
    with sent_over_http(
        kafka_admin, lake_settings, webhdfs, tmp_path, events, batch_size=50, single_every=7
    ) as small:
        land(spark, small["env"])
        yield {**small, "first_day": first_day}


def test_named_marts_are_computed_and_a_date_range_recomputes_only_those_days(spark, small_game):
    env = small_game["env"]
    settings = LakeSettings.from_env({**os.environ, **env})
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        compute_marts(spark, settings, ["daily_item_sales"], settings.events_path, tables=False)
    # Only the mart named: one mart line (after the state's and the inputs' times), one table.
    lines = printed.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines if " rows -> " in line] == ["daily_item_sales"]
    assert [line.split(":")[0] for line in lines if " rows -> " not in line] == ["state", "inputs"]
    assert not DeltaTable.is_deltatable(settings.mart_path("player_purchases"))
    before = mart_frame(spark, env, "daily_item_sales")

    day = small_game["first_day"] + timedelta(days=1)
    other_day = small_game["first_day"] + timedelta(days=2)
    extra = [
        {
            "event_type": "purchase",
            "player_id": "late-buyer",
            "client_ts": f"{d.isoformat()}T12:00:00Z",
            "properties": {"item": "crown", "price": 1000, "currency": "gold", "quantity": 1},
        }
        for d in (day, other_day)
    ]
    response = requests.post(f"{small_game['url']}/v1/events", json=extra, timeout=10)
    assert response.status_code == 202
    land(spark, env)
    out = settings.mart_path("daily_item_sales")
    commit = refresh(
        spark, settings, MARTS["daily_item_sales"], settings.events_path, out, day, day
    )
    assert commit.rows == len(before[before.event_date == day]) + 1  # the day's rows and a crown

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


def test_the_notebook_runs_top_to_bottom_with_its_plots(game, tmp_path):
    titles = [
        "Top items by revenue",
        "Revenue per day",
        "whales versus the rest",
        "Players per guild",
    ]
    rendered_notebook("player_purchases", game["env"], tmp_path, plots=5, titles=titles)


def test_the_player_endpoint_returns_what_the_marts_hold(spark, game):
    players = mart_frame(spark, game["env"], "player_purchases")
    top = players.sort_values("gold_spent", ascending=False).iloc[0]
    inventory = mart_frame(spark, game["env"], "player_inventory").set_index("player_id")
    response = requests.get(f"{game['url']}/v1/players/{top.player_id}", timeout=30)
    assert response.status_code == 200
    player = response.json()
    assert player["purchases"]["gold_spent"] == pytest.approx(top.gold_spent)
    owned = {i["item"]: i["quantity"] for i in inventory.loc[top.player_id, "items"]}
    assert {item: v["quantity"] for item, v in player["inventory"].items()} == owned
    assert player["computed_at"]
    assert requests.get(f"{game['url']}/v1/players/nobody", timeout=30).status_code == 404


def test_dates_in_the_marts_are_days(spark, game):
    days = set(mart_frame(spark, game["env"], "daily_active_players").event_date)
    assert days == {game["first_day"] + timedelta(days=i) for i in range(GAME_DAYS)}
    # A datetime or a pandas Timestamp is an instance of date too: only a date is a day.
    assert {type(d) for d in days} == {date}
