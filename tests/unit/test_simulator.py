import random
from collections import Counter
from datetime import date, datetime, timedelta

from events.envelope import validate
from simulator.players import make_players, simulate

FIRST_DAY = date(2026, 10, 1)


def days_of(events):
    """Per player, the set of days (since FIRST_DAY) with an event."""
    active = {}
    for event in events:
        day = (datetime.fromisoformat(event["client_ts"]).date() - FIRST_DAY).days
        active.setdefault(event["player_id"], set()).add(day)
    return active


def test_the_same_seed_gives_the_same_events_and_another_seed_others():
    assert list(simulate(50, 5, 3, FIRST_DAY)) == list(simulate(50, 5, 3, FIRST_DAY))
    assert list(simulate(50, 5, 3, FIRST_DAY)) != list(simulate(50, 5, 4, FIRST_DAY))


def test_installs_spread_over_the_days_and_retention_decays():
    days = 40
    active = days_of(simulate(2000, days, 42, FIRST_DAY))
    installs = Counter(min(d) for d in active.values())
    assert set(installs) == set(range(days))
    assert max(installs.values()) < 3 * min(installs.values())

    def retained(n):
        cohort = [d for d in active.values() if min(d) + n < days]
        return sum(min(d) + n in d for d in cohort) / len(cohort)

    assert 0.32 < retained(1) < 0.48
    assert 0.09 < retained(7) < 0.20
    assert 0.02 < retained(30) < 0.09
    assert retained(1) > retained(7) > retained(14) > retained(30)


def test_a_few_whales_bring_much_of_the_revenue():
    events = list(simulate(2000, 20, 42, FIRST_DAY))
    kinds = Counter(p.kind for p in make_players(2000, 20, random.Random(42)))
    assert 10 < kinds["whale"] < 80
    spend = Counter()
    for e in events:
        if e["event_type"] == "purchase":
            spend[e["player_id"]] += e["properties"]["price"] * e["properties"]["quantity"]
    top = sum(amount for _, amount in spend.most_common(len(spend) // 100))
    assert top > 0.05 * sum(spend.values())


def test_sessions_cross_midnight_but_not_past_the_last_day_and_some_buy_outside_sessions():
    events = list(simulate(300, 10, 7, FIRST_DAY))
    last = FIRST_DAY + timedelta(days=9)
    assert max(datetime.fromisoformat(e["client_ts"]).date() for e in events) == last
    day_of = {}
    crossing = 0
    for e in events:
        day = datetime.fromisoformat(e["client_ts"]).date()
        if e["event_type"] == "session_start":
            day_of[e["session_id"]] = day
        elif e["event_type"] == "session_end" and day_of[e["session_id"]] != day:
            crossing += 1
    assert crossing > 0
    buyers = {e["player_id"] for e in events if e["event_type"] == "purchase"}
    players_in_sessions = {e["player_id"] for e in events if e["event_type"] == "session_start"}
    assert buyers - players_in_sessions


def test_every_simulated_event_is_valid_for_the_api():
    events = list(simulate(300, 10, 7, FIRST_DAY))
    problems = [p for i, e in enumerate(events) for p in validate(e, i)]
    assert problems == []
