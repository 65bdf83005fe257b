"""The lake's layout: its tables' names and where each table and checkpoint lives.

Under a lake root (`QUESTLOG_LAKE_ROOT`, `hdfs://…/questlog` or `file://…`):

    lake/events        the landed events (Delta), SQL table `events`
    lake/quarantine    records that failed validation (Delta), SQL table `quarantine`
    lake/erasures      Kafka offsets whose rows were erased on request (Delta, no personal data)
    lake/erased_players  who was erased (a hash of the player_id) and when (Delta)
    lake/event_keys    every event_id `events` has held: the landing's dedupe index (Delta)
    checkpoints/       the streaming queries' checkpoints
    marts/<mart>       one Delta table per mart (runtime.marts), SQL table `<mart>`
"""

from __future__ import annotations

from dataclasses import dataclass

EVENTS_TABLE = "events"
QUARANTINE_TABLE = "quarantine"
ERASURES_TABLE = "erasures"
ERASED_PLAYERS_TABLE = "erased_players"
EVENT_KEYS_TABLE = "event_keys"


class LakePaths:
    """Paths of the lake's tables under `self.lake_root` (settings and `LakeLayout` have one)."""

    lake_root: str

    def table_path(self, table: str) -> str:
        """A table of the lake itself (events, quarantine, erasures)."""
        return f"{self.lake_root.rstrip('/')}/lake/{table}"

    @property
    def events_path(self) -> str:
        return self.table_path(EVENTS_TABLE)

    @property
    def quarantine_path(self) -> str:
        return self.table_path(QUARANTINE_TABLE)

    @property
    def erasures_path(self) -> str:
        return self.table_path(ERASURES_TABLE)

    @property
    def erased_players_path(self) -> str:
        return self.table_path(ERASED_PLAYERS_TABLE)

    @property
    def keys_path(self) -> str:
        return self.table_path(EVENT_KEYS_TABLE)

    @property
    def checkpoint_root(self) -> str:
        return f"{self.lake_root.rstrip('/')}/checkpoints"

    def mart_path(self, mart: str) -> str:
        return f"{self.lake_root.rstrip('/')}/marts/{mart}"


@dataclass(frozen=True)
class LakeLayout(LakePaths):
    """The lake's paths under one root, for code that has a root and no settings."""

    lake_root: str
