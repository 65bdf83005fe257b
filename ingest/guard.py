"""Who may do what, and how fast: scoped API keys, player tokens, token-bucket rate limits."""

from __future__ import annotations

import functools
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from flask import Flask, Request, abort, current_app, request

from ingest.errors import ApiError
from ingest.tokens import looks_like_a_token

# What a key may be allowed to do: send events as a game client (for any player: production
# refuses such keys unless told otherwise), send them as a server (for any player), read players.
EVENTS_WRITE = "events:write"
EVENTS_WRITE_ANY = "events:write:any"
PLAYERS_READ = "players:read"
SCOPES = (EVENTS_WRITE, EVENTS_WRITE_ANY, PLAYERS_READ)


class _Buckets:
    """Buckets by name, least recently written first: a bucket not written for `ttl` seconds
    is gone, and past `maxsize` buckets the least recently written one goes.

    cachetools' TTLCache does the same in six Python calls a lookup. This is an OrderedDict
    (C) written in order: a take costs a third of what it cost with TTLCache
    (docs/benchmarks.md).
    """

    def __init__(self, maxsize: int, ttl: float):
        self.maxsize, self.ttl = maxsize, ttl
        self._items: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def get(self, name: str, now: float) -> tuple[float, float] | None:
        """The bucket's tokens and when it was written, unless it expired."""
        saved = self._items.get(name)
        if saved is not None and now - saved[1] >= self.ttl:
            return None
        return saved

    def put(self, name: str, saved: tuple[float, float], now: float) -> None:
        items = self._items
        items[name] = saved
        items.move_to_end(name)
        self.expire(now)
        while len(items) > self.maxsize:
            items.popitem(last=False)

    def pop(self, name: str) -> None:
        self._items.pop(name, None)

    def expire(self, now: float) -> None:
        """Forget the buckets not written for `ttl` seconds: the first ones."""
        items = self._items
        while items and now - items[next(iter(items))][1] >= self.ttl:
            items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class RateLimiter:
    """Token buckets by name (an API key, a player): `rate` per second, up to `burst` saved.

    Hand-written because the common Flask limiters count fixed or sliding windows, not
    tokens, and cannot charge a batch of N events as N. Limits hold per worker process.

    Memory and the cost of a call stay bounded however many names there are: the buckets
    live in two maps of at most `max_names` entries together. A bucket untouched for
    `burst / rate` seconds is full again, the same as no bucket, so it expires then. Past a
    map's bound its least recently used bucket goes, which gives that name a full bucket
    again; so a bucket more than half spent moves to a map of its own, where only other
    buckets that far spent can push it out. A flood of made-up names, each charged a little,
    churns the first map and never evicts a name that is being limited: to push one out, a
    flood must spend half a burst on each name it makes up.
    """

    def __init__(self, rate: float, burst: int, clock=time.monotonic, max_names: int = 100_000):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        ttl = max(burst / rate, 1e-3)
        self._fresh = _Buckets(max(max_names // 2, 1), ttl)
        self._spent = _Buckets(max(max_names - max_names // 2, 1), ttl)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            now = self.clock()
            self._fresh.expire(now)
            self._spent.expire(now)
            return len(self._fresh) + len(self._spent)

    def take(self, name: str, count: int = 1) -> float:
        """Take `count` tokens; 0 when allowed, else the seconds until they would be there."""
        with self._lock:
            now = self.clock()
            # A name is in one map at most: it moves only when its bucket crosses half.
            saved = self._spent.get(name, now)
            was_spent = saved is not None
            if not was_spent:
                saved = self._fresh.get(name, now) or (float(self.burst), now)
            tokens = min(float(self.burst), saved[0] + (now - saved[1]) * self.rate)
            if count > tokens:
                wait = (count - tokens) / self.rate if count <= self.burst else float("inf")
            else:
                tokens, wait = tokens - count, 0.0
            spent = tokens < self.burst / 2
            keep, leave = (self._spent, self._fresh) if spent else (self._fresh, self._spent)
            if spent != was_spent:
                leave.pop(name)
            keep.put(name, (tokens, now), now)
            return wait


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


def _bearer() -> str:
    """The credential of `Authorization: Bearer <credential>`, or ''."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def api_key(*scopes: str) -> str | None:
    """The request's API key when keys are configured; aborts 401 without one, 403 when it
    has none of `scopes` (default: events:write)."""
    scopes = scopes or (EVENTS_WRITE,)
    keys: dict[str, frozenset[str]] = current_app.config["API_KEYS"]
    if not keys:
        return None
    given = _bearer()
    if given:
        given_bytes = given.encode("utf-8", "replace")
        # Compare against every key so timing does not tell which one nearly matched.
        matches = [hmac.compare_digest(given_bytes, key.encode()) for key in keys]
        if any(matches):
            key = list(keys)[matches.index(True)]
            if not keys[key] & set(scopes):
                abort(403, f"this API key does not have the {' or '.join(scopes)} scope")
            return key
    raise ApiError(
        401,
        "a valid API key is required: Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )


@dataclass(frozen=True)
class Sender:
    """Who sends events: the name its rate limit is kept under (None: the open service), the
    one player it may send for (None: any), and whether it is a server (not limited by its
    address)."""

    name: str | None
    player: str | None = None
    server: bool = False


@functools.cache
def trusted_networks(proxies: tuple[str, ...]) -> tuple:
    """The networks of `QUESTLOG_TRUSTED_PROXIES`, parsed once (ValueError for a bad one)."""
    return tuple(ip_network(proxy, strict=False) for proxy in proxies)


def client_address(app: Flask | None = None, req: Request | None = None) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    address in X-Forwarded-For that is not one (read from the right: the left is the
    client's own say). `app` and `req` default to the current ones."""
    app, req = app or current_app, req or request
    trusted = trusted_networks(app.config["SETTINGS"].trusted_proxies)

    def is_trusted(address: str) -> bool:
        try:
            return any(ip_address(address) in network for network in trusted)
        except ValueError:
            return False

    address = req.remote_addr or ""
    if not trusted or not is_trusted(address):
        return address
    for hop in reversed(req.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if hop and not is_trusted(hop):
            return hop[:64]
    return address


def sender() -> Sender:
    """The request's sender of events: a player token, bound to its player, when tokens are
    configured and one is sent; else an API key that may send events (401/403 as `api_key`):
    a server's key is limited as itself, a client key by the client's address."""
    tokens = current_app.extensions.get("questlog.player_tokens")
    given = _bearer()
    if tokens is not None and looks_like_a_token(given):
        player = tokens.player(given)
        return Sender(f"player:{player}", player)
    key = api_key(EVENTS_WRITE, EVENTS_WRITE_ANY)
    if key is not None and EVENTS_WRITE_ANY in current_app.config["API_KEYS"][key]:
        return Sender(f"key:{key}", server=True)
    return Sender(f"client:{client_address()}" if key is not None else None)


def own_player_only(sent_by: Sender, player_ids: list[str]) -> None:
    """A player token sends only its own player's events: 403 naming the first other one."""
    if sent_by.player is None:
        return
    for index, player_id in enumerate(player_ids):
        if player_id != sent_by.player:
            abort(
                403,
                f"event {index} is for player {player_id[:128]!r}; this player token may send "
                f"only for {sent_by.player[:128]!r}",
            )


def _retry_after(wait: float) -> str:
    return str(max(current_app.config["SETTINGS"].retry_after_s, int(min(wait, 3600)) + 1))


def limit(app: Flask, req: Request, sent_by: Sender, players: dict[str, int]) -> None:
    """Charge the sender, its client's address (unless it is a server) and each player;
    aborts 429 with Retry-After when a bucket is empty."""
    count = sum(players.values())
    extensions = app.extensions
    waits = [extensions["questlog.key_limiter"].take(sent_by.name or "(open)", count)]
    if not sent_by.server:
        address_limiter = extensions["questlog.address_limiter"]
        waits.append(address_limiter.take(client_address(app, req), count))
    player_limiter = extensions["questlog.player_limiter"]
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
