"""Player state for the game, read from the latest marts: no Spark job per request.

The newest complete versions of `player_inventory` and `player_purchases` are loaded into
memory (pyarrow, through WebHDFS or the local file system) and reloaded when a newer version
appears, checked at most every `player_state_refresh_s`.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from werkzeug.exceptions import ServiceUnavailable

from events.catalog import GUILD_UNLOCK, UNLOCKS
from lake.files import MartFiles

MARTS = ("player_inventory", "player_purchases")


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def player_view(inventory: dict | None, purchases: dict | None) -> dict:
    """What the game gets for one player: what they own, what they bought, what it unlocks."""
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
        keep = ("purchases", "items_bought", "gold_spent", "distinct_items", "active_days")
        summary = {key: purchases[key] for key in keep}
        summary["spent"] = dict(purchases["spent"] or [])
        summary["items"] = dict(purchases["items"] or [])
        summary["first_purchase_at"] = _iso(purchases["first_purchase_at"])
        summary["last_purchase_at"] = _iso(purchases["last_purchase_at"])
    computed = (inventory or purchases or {}).get("computed_at")
    return {
        "player_id": (inventory or purchases)["player_id"],
        "inventory": owned,
        "guild_id": guild_id,
        "unlocks": unlocks,
        "purchases": summary,
        "computed_at": _iso(computed),
    }


class PlayerState:
    """Players by id from the latest marts, reloaded when a newer version is written."""

    def __init__(self, files: MartFiles, refresh_s: float, clock=time.monotonic):
        self.files = files
        self.refresh_s = refresh_s
        self.clock = clock
        self._versions: tuple = ()
        self._players: dict[str, dict] = {}
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> PlayerState:
        files = MartFiles(settings.lake_root)
        return cls(files, settings.player_state_refresh_s)

    def _reload_if_newer(self) -> None:
        versions = tuple(self.files.latest_version(mart) for mart in MARTS)
        if versions == self._versions:
            return
        by_mart = [
            {row["player_id"]: row for row in self.files.rows(path)} if path else {}
            for path in versions
        ]
        inventory, purchases = by_mart
        self._players = {
            player_id: player_view(inventory.get(player_id), purchases.get(player_id))
            for player_id in inventory.keys() | purchases.keys()
        }
        self._versions = versions

    def lookup(self, player_id: str) -> dict | None:
        """The player's state, or None when the marts do not know them."""
        with self._lock:
            now = self.clock()
            if self._checked_at is None or now - self._checked_at >= self.refresh_s:
                try:
                    self._reload_if_newer()
                    self._checked_at = now
                except Exception as error:
                    if not self._versions:
                        raise ServiceUnavailable(f"the marts cannot be read: {error}") from error
            return self._players.get(player_id)
