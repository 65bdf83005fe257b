"""Simulated players: a few whales, some spenders, many who never pay."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# The shop: the seed's three items and a few more, prices in gold per unit.
SHOP = {"sword": 100, "horse": 250, "shield": 80, "potion": 5, "armor": 400, "dragon_egg": 2500}
GUILDS = ["wolves", "ravens", "lions", "owls", "bears"]

# Spender kinds: share of players, chance to buy in a session, purchases when buying.
KINDS = {
    "whale": (0.02, 0.9, (3, 8)),
    "dolphin": (0.10, 0.5, (1, 3)),
    "minnow": (0.28, 0.15, (1, 1)),
    "free": (0.60, 0.0, (0, 0)),
}


@dataclass(frozen=True)
class Player:
    player_id: str
    kind: str
    days_active: float  # chance to play on a given day


def make_players(count: int, rng: random.Random) -> list[Player]:
    """`count` players, their spender kind drawn by the shares above."""
    kinds, weights = list(KINDS), [share for share, _, _ in KINDS.values()]
    return [
        Player(f"player-{i:05d}", rng.choices(kinds, weights)[0], rng.uniform(0.3, 0.95))
        for i in range(count)
    ]


def _event_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(rng, player, event_type, ts, session_id, properties=None) -> dict:
    return {
        "event_id": _event_id(rng),
        "event_type": event_type,
        "schema_version": 1,
        "player_id": player.player_id,
        "session_id": session_id,
        "client_ts": _iso(ts),
        "properties": properties or {},
    }


def simulate(players: int, days: int, seed: int, first_day: date) -> Iterator[dict]:
    """Client events of `players` over `days` days from `first_day`, the same for the same seed."""
    rng = random.Random(seed)
    cast = make_players(players, rng)
    level = {p.player_id: 1 for p in cast}
    guild = {}
    for day in range(days):
        midnight = datetime.combine(first_day + timedelta(days=day), datetime.min.time(), UTC)
        for player in cast:
            if rng.random() > player.days_active:
                continue
            for _ in range(rng.randint(1, 3)):
                ts = midnight + timedelta(seconds=rng.randint(0, 80_000))
                session_id = _event_id(rng)
                yield _event(rng, player, "session_start", ts, session_id)
                _, buy_chance, (low, high) = KINDS[player.kind]
                if rng.random() < buy_chance:
                    for _ in range(rng.randint(low, high)):
                        ts += timedelta(seconds=rng.randint(1, 120))
                        item = rng.choice(list(SHOP))
                        properties = {
                            "item": item,
                            "price": SHOP[item],
                            "currency": "gold",
                            "quantity": rng.choice([1, 1, 1, 2, 5]),
                        }
                        yield _event(rng, player, "purchase", ts, session_id, properties)
                if rng.random() < 0.3:
                    ts += timedelta(seconds=rng.randint(1, 600))
                    level[player.player_id] += 1
                    props = {"level": level[player.player_id]}
                    yield _event(rng, player, "level_up", ts, session_id, props)
                if player.player_id not in guild and rng.random() < 0.1:
                    ts += timedelta(seconds=rng.randint(1, 60))
                    guild[player.player_id] = rng.choice(GUILDS)
                    props = {"guild_id": guild[player.player_id]}
                    yield _event(rng, player, "join_guild", ts, session_id, props)
                ts += timedelta(seconds=rng.randint(60, 1800))
                yield _event(rng, player, "session_end", ts, session_id)
