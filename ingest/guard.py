"""Who may write, and how fast: API keys and token-bucket rate limits."""

from __future__ import annotations

import hmac
import threading
import time

from flask import abort, current_app, request
from werkzeug.exceptions import HTTPException


class RateLimiter:
    """Token buckets by name (an API key, a player): `rate` per second, up to `burst` saved.

    Hand-written because the common Flask limiters count fixed or sliding windows, not
    tokens, and cannot charge a batch of N events as N. Limits hold per worker process.
    """

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

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
            if len(self._buckets) > 100_000:  # forget idle players rather than grow forever
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return 0.0


def abort_with_headers(code: int, description: str, headers: dict, problems=None):
    """Abort with extra response headers (Retry-After) and optional problem list."""
    try:
        abort(code, description)
    except HTTPException as error:
        error.extra_headers = headers
        if problems is not None:
            error.problems = problems
        raise


def api_key() -> str | None:
    """The request's API key when keys are configured; aborts 401 without a valid one."""
    keys = current_app.config["SETTINGS"].api_keys
    if not keys:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and given:
        given_bytes = given.strip().encode()
        # Compare against every key so timing does not tell which one nearly matched.
        matches = [hmac.compare_digest(given_bytes, key.encode()) for key in keys]
        if any(matches):
            return keys[matches.index(True)]
    abort_with_headers(
        401,
        "a valid API key is required: Authorization: Bearer <key>",
        {"WWW-Authenticate": "Bearer"},
    )


def limit(key: str | None, players: dict[str, int]) -> None:
    """Charge the key and each player; aborts 429 with Retry-After when a bucket is empty."""
    settings = current_app.config["SETTINGS"]
    waits = [
        current_app.extensions["questlog.key_limiter"].take(
            key or "(anonymous)", sum(players.values())
        )
    ]
    player_limiter = current_app.extensions["questlog.player_limiter"]
    waits += [player_limiter.take(player, count) for player, count in players.items()]
    wait = max(waits)
    if wait > 0:
        retry_after = max(settings.retry_after_s, int(min(wait, 3600)) + 1)
        abort_with_headers(429, "rate limit exceeded", {"Retry-After": str(retry_after)})
