"""Who may do what, and how fast: scoped API keys and token-bucket rate limits."""

from __future__ import annotations

import hmac
import threading
import time

from cachetools import TTLCache
from flask import abort, current_app, request

from ingest.errors import ApiError

# What a key may be allowed to do.
EVENTS_WRITE = "events:write"
PLAYERS_READ = "players:read"
SCOPES = (EVENTS_WRITE, PLAYERS_READ)


class RateLimiter:
    """Token buckets by name (an API key, a player): `rate` per second, up to `burst` saved.

    Hand-written because the common Flask limiters count fixed or sliding windows, not
    tokens, and cannot charge a batch of N events as N. Limits hold per worker process.
    The buckets live in a TTL map of at most `max_names` entries: a bucket untouched for
    `burst / rate` seconds is full again, the same as no bucket, so it expires then; past
    `max_names` the least recently used bucket goes. Memory and the cost of a call stay
    bounded however many players there are.
    """

    def __init__(self, rate: float, burst: int, clock=time.monotonic, max_names: int = 100_000):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: TTLCache = TTLCache(
            maxsize=max_names, ttl=max(burst / rate, 1e-3), timer=clock
        )
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def take(self, name: str, count: int = 1) -> float:
        """Take `count` tokens; 0 when allowed, else the seconds until they would be there."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(name, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if count > tokens:
                self._buckets[name] = (tokens, now)
                return (count - tokens) / self.rate if count <= self.burst else float("inf")
            self._buckets[name] = (tokens - count, now)
            return 0.0


def parse_api_keys(entries: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """`key` (events:write) or `key=scope+scope` entries -> the scopes of each key."""
    keys = {}
    for entry in entries:
        key, _, scopes = entry.partition("=")
        granted = frozenset(scopes.split("+")) if scopes else frozenset({EVENTS_WRITE})
        unknown = granted - set(SCOPES)
        if not key or unknown:
            raise ValueError(
                f"QUESTLOG_API_KEYS entry {entry[:4]}...: scopes must be among {', '.join(SCOPES)}"
            )
        keys[key] = granted
    return keys


def api_key(scope: str = EVENTS_WRITE) -> str | None:
    """The request's API key when keys are configured; aborts 401 without one, 403 off scope."""
    keys: dict[str, frozenset[str]] = current_app.config["API_KEYS"]
    if not keys:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and given:
        given_bytes = given.strip().encode("utf-8", "replace")
        # Compare against every key so timing does not tell which one nearly matched.
        matches = [hmac.compare_digest(given_bytes, key.encode()) for key in keys]
        if any(matches):
            key = list(keys)[matches.index(True)]
            if scope not in keys[key]:
                abort(403, f"this API key does not have the {scope} scope")
            return key
    raise ApiError(
        401,
        "a valid API key is required: Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _retry_after(wait: float) -> str:
    return str(max(current_app.config["SETTINGS"].retry_after_s, int(min(wait, 3600)) + 1))


def limit(key: str | None, players: dict[str, int]) -> None:
    """Charge the key and each player; aborts 429 with Retry-After when a bucket is empty."""
    waits = [
        current_app.extensions["questlog.key_limiter"].take(
            key or "(anonymous)", sum(players.values())
        )
    ]
    player_limiter = current_app.extensions["questlog.player_limiter"]
    waits += [player_limiter.take(player, count) for player, count in players.items()]
    wait = max(waits)
    if wait > 0:
        raise ApiError(429, "rate limit exceeded", headers={"Retry-After": _retry_after(wait)})


def limit_reads(key: str | None) -> None:
    """Charge one player read to the key (or the client's address); aborts 429 when spent."""
    name = key or f"addr:{request.remote_addr}"
    wait = current_app.extensions["questlog.read_limiter"].take(name)
    if wait > 0:
        raise ApiError(429, "rate limit exceeded", headers={"Retry-After": _retry_after(wait)})
