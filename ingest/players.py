"""Player state for the game, read from the latest marts and the events landed since: no
Spark job per request.

`player_inventory`, `player_purchases` and `spender_segments` are read into memory
(`MartFiles.table`: the newest version of each mart's Delta table, through delta-rs) by a
background thread, again every `player_state_refresh_s`. The purchases and guild joins that
`events` gained (or lost to an erasure) after the version the marts reflect are read from its
change data feed (`EventChanges`) and folded in (`with_new_events`), so a purchase shows as
soon as it has landed, not at the next marts run. Requests are answered from the last state
read, with its age.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
from deltalake.exceptions import TableNotFoundError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed
from werkzeug.exceptions import ServiceUnavailable

from events.shop import CURRENCY, GUILD_UNLOCK, SPENT_COLUMN, UNLOCKS
from lake.files import EVENTS_VERSION_KEY, EventChanges, MartFiles, NewEvents
from runtime.marts import player_state_marts

log = logging.getLogger(__name__)

MARTS = tuple(player_state_marts())
SPENDING = ("segment", "lifetime_spend", "spend_rank")
# What `with_new_events` reads of the events landed after the marts.
FOLDED_TYPES = ("purchase", "join_guild")
FOLDED_COLUMNS = ("player_id", "event_ts", "event_date", "properties")


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _utc(moment: datetime) -> datetime:
    """A mart's timestamp as UTC: Spark writes them in UTC, some readers without the zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def data_age_s(player: dict, now: datetime) -> float | None:
    """Seconds between the newest data a player's answer comes from and `now`: the events
    landed through `landed_through` when some were folded in, else the marts' computation."""
    newest = player.get("landed_through") or player["computed_at"]
    if newest is None:
        return None
    return max((now - _utc(datetime.fromisoformat(newest))).total_seconds(), 0.0)


def player_view(
    inventory: dict | None, purchases: dict | None, segment: dict | None = None
) -> dict:
    """What the game gets for one player: what they own, bought and unlock, how they spend."""
    owned = {
        item["item"]: {"quantity": item["quantity"], "since": _iso(item["since"])}
        for item in (inventory or {}).get("items") or []
    }
    guild_id = (inventory or {}).get("guild_id")
    unlocks = sorted({UNLOCKS[item] for item in owned if item in UNLOCKS})
    if guild_id:
        unlocks.append(GUILD_UNLOCK)
    summary = {}
    if purchases:
        keep = ("purchases", "items_bought", SPENT_COLUMN, "distinct_items", "active_days")
        summary = {key: purchases[key] for key in keep}
        summary["spent"] = dict(purchases["spent"] or [])
        summary["items"] = dict(purchases["items"] or [])
        summary["first_purchase_at"] = _iso(purchases["first_purchase_at"])
        summary["last_purchase_at"] = _iso(purchases["last_purchase_at"])
    # The answer is as old as the oldest mart it comes from.
    computed = min(
        (row["computed_at"] for row in (inventory, purchases, segment) if row),
        key=_utc,
        default=None,
    )
    return {
        "player_id": (inventory or purchases)["player_id"],
        "inventory": owned,
        "guild_id": guild_id,
        "guild_since": _iso((inventory or {}).get("guild_since")),
        "unlocks": unlocks,
        "purchases": summary,
        "spending": {key: segment[key] for key in SPENDING} if segment else None,
        "computed_at": _iso(computed),
        "landed_through": None,
    }


def _moment(iso: str) -> datetime:
    return _utc(datetime.fromisoformat(iso))


def _new_player(player_id: str) -> dict:
    return {
        "player_id": player_id,
        "inventory": {},
        "guild_id": None,
        "guild_since": None,
        "unlocks": [],
        "purchases": {},
        "spending": None,
        "computed_at": None,
        "landed_through": None,
    }


def _bought(player: dict, event: dict) -> None:
    """Fold one landed purchase into a player's answer, as `jobs.marts` would count it."""
    bought = event["properties"]
    item, quantity = bought["item"], bought["quantity"]
    owned = player["inventory"].setdefault(item, {"quantity": 0, "since": None})
    owned["quantity"] += quantity
    when = _iso(_utc(event["event_ts"]))
    owned["since"] = min(owned["since"] or when, when, key=_moment)
    summary = player["purchases"]
    if not summary:
        summary.update(
            purchases=0, items_bought=0, spent={}, items={}, first_purchase_at=None,
            last_purchase_at=None, active_days=0, distinct_items=0, **{SPENT_COLUMN: 0.0}
        )  # fmt: skip
    amount = bought["price"] * quantity
    summary["purchases"] += 1
    summary["items_bought"] += quantity
    summary["items"][item] = summary["items"].get(item, 0) + quantity
    summary["distinct_items"] = len(summary["items"])
    summary["spent"][bought["currency"]] = summary["spent"].get(bought["currency"], 0.0) + amount
    summary[SPENT_COLUMN] = summary["spent"].get(CURRENCY, 0.0)
    times = [t for t in (summary["first_purchase_at"], summary["last_purchase_at"]) if t]
    times = sorted([*times, when], key=_moment)
    summary["first_purchase_at"], summary["last_purchase_at"] = times[0], times[-1]


def with_new_events(players: dict[str, dict], new: NewEvents) -> dict[str, dict]:
    """The players of the marts with the purchases and guild joins landed since folded in.

    Inventory, guild, unlocks and the purchase counts and spend follow every landed event;
    `active_days` and `spending` (ranks over every player) stay as the marts computed them.
    A player new since the marts counts the days of their own events. A player with an event
    deleted since (an erasure) is not answered for. `players` is left as it is.
    """
    if not new.rows:
        return players
    erased = {row["player_id"] for row in new.rows if row["_change_type"] == "delete"}
    folded = {player_id: players[player_id] for player_id in players.keys() - erased}
    added = [row for row in new.rows if row["player_id"] not in erased]
    days: dict[str, set] = {}
    for event in sorted(added, key=lambda row: _utc(row["event_ts"])):
        player_id = event["player_id"]
        if player_id not in days:
            known = folded.get(player_id)
            folded[player_id] = copy.deepcopy(known) if known else _new_player(player_id)
            days[player_id] = None if known else set()
        player = folded[player_id]
        if event["event_type"] == "purchase":
            _bought(player, event)
        else:
            joined = _iso(_utc(event["event_ts"]))
            last = player["guild_since"]
            if last is None or _utc(event["event_ts"]) >= _moment(last):
                player["guild_id"], player["guild_since"] = event["properties"]["guild_id"], joined
        if days[player_id] is not None:
            days[player_id].add(event["event_date"])
            if player["purchases"]:
                player["purchases"]["active_days"] = len(days[player_id])
    landed_through = _iso(new.committed_at)
    for player_id in days:
        player = folded[player_id]
        unlocks = sorted({UNLOCKS[item] for item in player["inventory"] if item in UNLOCKS})
        player["unlocks"] = unlocks + ([GUILD_UNLOCK] if player["guild_id"] else [])
        player["landed_through"] = landed_through
    return folded


class MixedVersions(Exception):
    """The marts were read while a run was committing them."""


# A run commits its marts within a few seconds of each other; the background read waits.
_read_again_while_mixed = retry(
    retry=retry_if_exception_type(MixedVersions),
    stop=stop_after_attempt(10),
    wait=wait_fixed(1),
    reraise=True,
)


class PlayerState:
    """Players by id from the latest marts, re-read in the background every `refresh_s`.

    A request never reads the lake itself: it gets the last state read, with its age, while
    one background thread reads the next. A lake that hangs or fails only makes that state
    older; before the first read has finished a request waits until `wait_s` after that read
    started, then gets 503. A read that has hung for `read_timeout_s` is abandoned (delta-rs
    takes no timeout; its daemon thread is left waiting) and the next request starts another,
    so a lake that answers again is read again; an abandoned read that returns later is
    ignored. State older than `max_age_s` (the service idle that long, or the lake not
    answering) is not served: the request waits, as for the first read, until `wait_s` after
    the read it started, then gets 503 if that read has not finished.
    `load(mart)` returns a mart as an Arrow table (`MartFiles.table`).
    """

    def __init__(
        self,
        load: Callable[[str], pa.Table],
        refresh_s: float,
        wait_s: float = 1.0,
        clock=time.monotonic,
        read_timeout_s: float = 60.0,
        max_age_s: float = 600.0,
        changes: Callable[[int], NewEvents] | None = None,
    ):
        self.load = load
        # `changes(version)`: what `events` gained and lost after the marts' version.
        self.changes = changes
        self.refresh_s = refresh_s
        self.wait_s = wait_s
        self.read_timeout_s = read_timeout_s
        self.max_age_s = max_age_s
        self.clock = clock
        # Each read's number: only the newest may store what it read.
        self._generation = 0
        self._players: dict[str, dict] | None = None
        # The players as the marts alone give them, before the newer events are folded in.
        self._mart_players: dict[str, dict] | None = None
        # The tables the players were built from (`MartFiles.table` returns the same object
        # for a version it read before).
        self._read_tables: list[pa.Table | None] = []
        self._read_at: float | None = None
        self._started_at: float | None = None
        self._error = ""
        self._reading = False
        # Set when the read running (or last run) finishes, with or without state.
        self._read_done = threading.Event()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> PlayerState:
        files = MartFiles(settings.lake_root)
        events = EventChanges(files.layout.events_path, FOLDED_TYPES, FOLDED_COLUMNS)
        return cls(
            files.table,
            settings.player_state_refresh_s,
            settings.player_state_wait_s,
            read_timeout_s=settings.player_state_read_timeout_s,
            max_age_s=settings.player_state_max_age_s,
            changes=events.since,
        )

    def _tables(self) -> dict[str, pa.Table | None]:
        """Each player-state mart (None before its first run), all of one `events` version.

        A mart run commits the marts one after another: a read between two of its commits
        would mix versions (an item owned and no purchase of it), and is read again.
        """
        tables = {}
        for mart in MARTS:
            try:
                tables[mart] = self.load(mart)
            except FileNotFoundError:  # no mart computed yet: no player known
                tables[mart] = None
        versions = {
            table.schema.metadata.get(EVENTS_VERSION_KEY)
            for table in tables.values()
            if table is not None and table.schema.metadata
        }
        if len(versions) > 1:
            raise MixedVersions(f"the marts reflect different events versions: {versions}")
        return tables

    def _read(self, generation: int, done: threading.Event) -> None:
        try:
            tables = list(_read_again_while_mixed(self._tables)().items())
            with self._lock:
                # The same tables as the last read (no mart has a newer version): the players
                # built from them stand, and are as fresh as this read.
                same = len(tables) == len(self._read_tables) and all(
                    table is kept
                    for (_, table), kept in zip(tables, self._read_tables, strict=True)
                )
                mart_players = self._mart_players if same else None
            if mart_players is None:
                mart_players = self._players_of(dict(tables))
            players = self._with_new_events(mart_players, dict(tables))
            with self._lock:
                if generation == self._generation:
                    self._players, self._read_at, self._error = players, self.clock(), ""
                    self._mart_players = mart_players
                    self._read_tables = [table for _, table in tables]
        except Exception as error:  # the lake failed: keep the last state, say why
            with self._lock:
                if generation == self._generation:
                    self._error = f"the marts cannot be read: {error!r}"[:500]
        finally:
            with self._lock:
                if generation == self._generation:
                    self._reading = False
            done.set()

    def _with_new_events(
        self, players: dict[str, dict], tables: dict[str, pa.Table | None]
    ) -> dict[str, dict]:
        """`players` with the events landed after the version the marts reflect folded in;
        as they are when the marts record no version."""
        if self.changes is None:
            return players
        present = [table for table in tables.values() if table is not None]
        versions = {(table.schema.metadata or {}).get(EVENTS_VERSION_KEY) for table in present}
        if not present:
            version = -1  # no marts yet: every landed event is new
        elif len(versions) == 1 and None not in versions:
            version = int(versions.pop())
        else:
            return players
        try:
            new = self.changes(version)
        except TableNotFoundError:  # nothing landed yet
            return players
        except Exception as error:  # e.g. versions from before the change feed was enabled
            log.warning("the events landed since the marts cannot be read: %r", error)
            return players
        return with_new_events(players, new)

    @staticmethod
    def _players_of(tables: dict[str, pa.Table | None]) -> dict[str, dict]:
        rows = {
            mart: {row["player_id"]: row for row in table.to_pylist()} if table else {}
            for mart, table in tables.items()
        }
        inventory, purchases = rows["player_inventory"], rows["player_purchases"]
        segments = rows["spender_segments"]
        return {
            player_id: player_view(
                inventory.get(player_id), purchases.get(player_id), segments.get(player_id)
            )
            for player_id in inventory.keys() | purchases.keys()
        }

    def _refresh_if_due(self) -> None:
        """Start a background read when the state is older than `refresh_s` and none runs, or
        when the one running has hung for `read_timeout_s`."""
        with self._lock:
            now = self.clock()
            if self._started_at is not None:
                running_s = now - self._started_at
                if running_s < (self.read_timeout_s if self._reading else self.refresh_s):
                    return
                if self._reading:
                    self._error = f"a read of the marts hung for {running_s:.0f} s: read again"
            self._generation += 1
            self._reading, self._started_at = True, now
            self._read_done = done = threading.Event()
            generation = self._generation
        threading.Thread(
            target=self._read, args=(generation, done), name="player-state", daemon=True
        ).start()

    def lookup(self, player_id: str) -> tuple[dict | None, float]:
        """The player's state (None when the marts do not know them) and its age in seconds.

        Raises ServiceUnavailable when no state could be read within `wait_s`, or when the
        last state read is older than `max_age_s` (the lake has not answered since).
        """
        self._refresh_if_due()
        with self._lock:
            done, started_at = self._read_done, self._started_at
            unusable = self._players is None or self.clock() - self._read_at > self.max_age_s
        if unusable:
            # Counted from the read's start: once it has taken `wait_s`, requests are
            # answered at once instead of each holding a thread for `wait_s`.
            done.wait(max(started_at + self.wait_s - self.clock(), 0))
        with self._lock:
            players, read_at, error = self._players, self._read_at, self._error
        if players is None:
            raise ServiceUnavailable(error or f"the marts were not read within {self.wait_s:g} s")
        age_s = max(self.clock() - read_at, 0.0)
        if age_s > self.max_age_s:
            raise ServiceUnavailable(
                f"the marts were last read {age_s:.0f} s ago, past the bound of "
                f"{self.max_age_s:g} s: {error or 'no read has finished since'}"
            )
        return players.get(player_id), age_s
