"""Simulated players of a live game: install cohorts, decaying retention, a few whales.

Installs are spread over the simulated days. After installing, a player comes back on day N
with a chance that decays like a real game's retention curve (about 40 % on day 1, 15 % on
day 7, a few % on day 30), a little better for players who pay. Whales, dolphins and minnows
buy in their sessions; now and then a payer's day is only a purchase in the web shop,
outside any session.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from events.shop import SHOP

GUILDS = ["wolves", "ravens", "lions", "owls", "bears"]

# Spender kinds: share of players, chance to buy in a session, purchases when buying, and how
# much likelier than others to come back on a given day.
KINDS = {
    "whale": (0.02, 0.9, (3, 8), 2.0),
    "dolphin": (0.10, 0.5, (1, 3), 1.5),
    "minnow": (0.28, 0.15, (1, 1), 1.2),
    "free": (0.60, 0.0, (0, 0), 0.9),
}
# The chance to be active N days after installing: DAY_1_RETURN * N ** -RETURN_DECAY, a power
# law as retention curves of live games tend to be (day 1: 40 %, day 7: 13 %, day 30: 6 %, with
# the payers' boost and sessions running past midnight).
DAY_1_RETURN = 0.36
RETURN_DECAY = 0.55
WEB_SHOP_CHANCE = 0.1  # a payer's day spent only in the web shop: a purchase, no session
DAY_S = 86_400


@dataclass(frozen=True)
class Player:
    player_id: str
    kind: str
    install_day: int  # days after the first simulated day


def make_players(count: int, days: int, rng: random.Random) -> list[Player]:
    """`count` players, their spender kind drawn by the shares above, installs spread evenly."""
    kinds, weights = list(KINDS), [share for share, *_ in KINDS.values()]
    return [
        Player(f"player-{i:05d}", rng.choices(kinds, weights)[0], rng.randrange(days))
        for i in range(count)
    ]


def return_chance(player: Player, days_since_install: int) -> float:
    """The chance that `player` plays on the given day after installing (1 on day 0)."""
    if days_since_install == 0:
        return 1.0
    boost = KINDS[player.kind][3]
    return min(1.0, boost * DAY_1_RETURN * days_since_install**-RETURN_DECAY)


def _event_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(rng, player, event_type, ts, session_id, properties=None) -> dict:
    event = {
        "event_id": _event_id(rng),
        "event_type": event_type,
        "schema_version": 1,
        "player_id": player.player_id,
        "session_id": session_id,
        "client_ts": _iso(ts),
        "properties": properties or {},
    }
    if session_id is None:  # outside any session: the field is left out, as the API wants
        del event["session_id"]
    return event


def _purchase(rng, player, ts, session_id) -> dict:
    item = rng.choice(list(SHOP))
    properties = {
        "item": item,
        "price": SHOP[item].price,
        "currency": SHOP[item].currency,
        "quantity": rng.choice([1, 1, 1, 2, 5]),
    }
    return _event(rng, player, "purchase", ts, session_id, properties)


def _session(rng, player, start, level, guild) -> Iterator[dict]:
    """One session: start, maybe purchases, a level-up, a guild join, then the end."""
    ts = start
    session_id = _event_id(rng)
    yield _event(rng, player, "session_start", ts, session_id)
    _, buy_chance, (low, high), _ = KINDS[player.kind]
    if rng.random() < buy_chance:
        for _ in range(rng.randint(low, high)):
            ts += timedelta(seconds=rng.randint(1, 120))
            yield _purchase(rng, player, ts, session_id)
    if rng.random() < 0.3:
        ts += timedelta(seconds=rng.randint(1, 600))
        level[player.player_id] += 1
        props = {"level": level[player.player_id]}
        yield _event(rng, player, "level_up", ts, session_id, props)
    if player.player_id not in guild and rng.random() < 0.1:
        ts += timedelta(seconds=rng.randint(1, 60))
        guild[player.player_id] = rng.choice(GUILDS)
        yield _event(
            rng, player, "join_guild", ts, session_id, {"guild_id": guild[player.player_id]}
        )
    ts += timedelta(seconds=rng.randint(60, 1800))
    yield _event(rng, player, "session_end", ts, session_id)


# The longest a session above lasts: purchases, level-up, guild join and the end.
LONGEST_SESSION_S = 8 * 120 + 600 + 60 + 1800


def simulate(players: int, days: int, seed: int, first_day: date) -> Iterator[dict]:
    """Client events of `players` over `days` days from `first_day`, the same for the same seed.

    Sessions may run past midnight into the next day, but never past the last simulated day.
    """
    rng = random.Random(seed)
    cast = make_players(players, days, rng)
    level = {p.player_id: 1 for p in cast}
    guild = {}
    for day in range(days):
        midnight = datetime.combine(first_day + timedelta(days=day), datetime.min.time(), UTC)
        latest_start = DAY_S - 1 if day < days - 1 else DAY_S - 1 - LONGEST_SESSION_S
        for player in cast:
            if day < player.install_day:
                continue
            if rng.random() >= return_chance(player, day - player.install_day):
                continue
            if player.kind != "free" and rng.random() < WEB_SHOP_CHANCE:
                ts = midnight + timedelta(seconds=rng.randint(0, latest_start))
                yield _purchase(rng, player, ts, None)
                continue
            starts = sorted(rng.randint(0, latest_start) for _ in range(rng.randint(1, 3)))
            for start in starts:
                yield from _session(rng, player, midnight + timedelta(seconds=start), level, guild)
