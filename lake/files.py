"""Reading the lake's Delta tables without Spark, with delta-rs (`deltalake`).

For the ingest service's player endpoint and for notebooks. delta-rs reads a table's
transaction log, so it sees exactly the rows of one committed version, never a file of a
write that has not committed; it reaches `hdfs://` directly (no WebHDFS) and `file://`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from runtime.layout import LakeLayout


@dataclass(frozen=True)
class Commit:
    """A table's commit as its log records it."""

    version: int
    # Rows the commit wrote (Delta's `numOutputRows`), when its operation reports them.
    rows: int | None


def last_commit(uri: str) -> Commit:
    """The table's newest commit, from its log: no Spark job, so a session busy with other
    jobs (`jobs/run_marts.py` writes several marts at once) does not queue it behind theirs.
    A full overwrite's rows are every row of the table; a `replaceWhere`'s are the rows it
    wrote for its condition, not the rows of other days it copied into new files."""
    info = DeltaTable(uri).history(1)[0]
    metrics = info.get("operationMetrics") or {}
    if metrics.get("numOutputRows") is None:
        return Commit(int(info["version"]), None)
    rows = int(metrics["numOutputRows"]) - int(metrics.get("numCopiedRows", 0))
    return Commit(int(info["version"]), rows)


def table_version(uri: str) -> int:
    """The table's newest version, from its log (no Spark job)."""
    return DeltaTable(uri).version()


def table_id(uri: str) -> str:
    """The table's Delta id, from its log: a table made again has a new one."""
    return DeltaTable(uri).metadata().id


def partition_columns(uri: str) -> list[str]:
    """The columns the table is partitioned by, from its log."""
    return list(DeltaTable(uri).metadata().partition_columns)


def column_names(uri: str) -> list[str]:
    """The table's columns, from its log."""
    return [field.name for field in DeltaTable(uri).schema().fields]


def table_properties(uri: str) -> dict[str, str]:
    """The table's properties (`TBLPROPERTIES`), from its log."""
    return DeltaTable(uri).metadata().configuration


def _events_version(commit: dict) -> int | None:
    metadata = commit.get("userMetadata")
    return json.loads(metadata).get("events_version") if metadata else None


def events_version_of(uri: str) -> int | None:
    """The `events` version a mart's or state table's newest commit reflects, as its run
    recorded it; None for a run that recorded none, or no table yet."""
    try:
        return _events_version(DeltaTable(uri).history(1)[0])
    except TableNotFoundError:
        return None


# The Arrow schema metadata key of a mart read by `MartFiles`: the events version it reflects.
EVENTS_VERSION_KEY = b"questlog.events_version"


@dataclass(frozen=True)
class MartVersion:
    """One committed version of a mart's table."""

    uri: str
    version: int


class MartFiles:
    """The marts of one lake, read through their Delta logs."""

    def __init__(self, lake_root: str):
        self.root = lake_root.rstrip("/")
        self.layout = LakeLayout(lake_root)
        # The last version of each mart `table` read, with its table: a version never changes.
        self._last: dict[str, tuple[int, pa.Table]] = {}

    def uri(self, mart: str) -> str:
        return self.layout.mart_path(mart)

    def latest_version(self, mart: str) -> MartVersion | None:
        """The mart's newest committed version, or None before its first run."""
        try:
            table = DeltaTable(self.uri(mart))
        except TableNotFoundError:
            return None
        return MartVersion(self.uri(mart), table.version())

    def version_table(self, version: MartVersion) -> pa.Table:
        """One version of a mart as one Arrow table; its schema metadata holds the `events`
        version that mart version reflects, when its run recorded one (`EVENTS_VERSION_KEY`)."""
        table = DeltaTable(version.uri, version=version.version).to_pyarrow_table()
        # The newest commits, the version read among them unless many came since.
        for commit in DeltaTable(version.uri).history(8):
            events_version = _events_version(commit)
            if commit["version"] == version.version and events_version is not None:
                return table.replace_schema_metadata({EVENTS_VERSION_KEY: str(events_version)})
        return table

    def rows(self, version: MartVersion) -> list[dict]:
        """One version of a mart as a list of rows."""
        return self.version_table(version).to_pylist()

    def table(self, mart: str) -> pa.Table:
        """The newest version of a mart as one Arrow table: the same object as the last call
        returned when the mart has no newer version (only its log is read then)."""
        version = self.latest_version(mart)
        if version is None:
            raise FileNotFoundError(f"no Delta table for the mart {mart!r} in {self.root}")
        last = self._last.get(mart)
        if last is not None and last[0] == version.version:
            return last[1]
        table = self.version_table(version)
        self._last[mart] = (version.version, table)
        return table


@dataclass(frozen=True)
class NewEvents:
    """What `events` gained and lost after a version: its change data feed's rows."""

    # Each row: the columns asked for, `_change_type` ("insert" or "delete") and
    # `_commit_version`.
    rows: list[dict]
    # The newest version read, and when it was committed (None: no version after the one asked).
    version: int
    committed_at: datetime | None


class EventChanges:
    """The rows of some event types that `events` gained or lost after a version, read from
    its change data feed through delta-rs. Versions read once are kept, so a call reads only
    the commits since the last (a landing batch's few files)."""

    def __init__(self, uri: str, event_types: tuple[str, ...], columns: tuple[str, ...]):
        self.uri = uri
        self.event_types = event_types
        feed_columns = ("_change_type", "_commit_version")
        self.columns = tuple(dict.fromkeys(("event_type", *columns, *feed_columns)))
        self._rows: list[dict] = []
        self._through: int | None = None
        self._committed_at: datetime | None = None
        self._table: DeltaTable | None = None
        # A read abandoned as hung may still be in `since` when the next one starts.
        self._lock = threading.Lock()

    def _newest(self) -> DeltaTable:
        """The table at its newest version: loaded once, then brought up to date by reading
        only the commits since (its snapshot grows with the table)."""
        if self._table is None:
            self._table = DeltaTable(self.uri)
        else:
            try:
                self._table.update_incremental()
            except Exception:
                self._table = None  # loaded afresh next time (a table made again)
                raise
        return self._table

    def since(self, version: int) -> NewEvents:
        """The changes of every version after `version`, up to the newest."""
        with self._lock:
            return self._since(version)

    def _since(self, version: int) -> NewEvents:
        table = self._newest()
        newest = table.version()
        if self._through is None or version > self._through:
            self._rows, self._through, self._committed_at = [], version, None
        rows = [row for row in self._rows if row["_commit_version"] > version]
        if newest > self._through:
            types = ", ".join(f"'{event_type}'" for event_type in self.event_types)
            feed = table.load_cdf(
                starting_version=self._through + 1,
                columns=list(self.columns),
                predicate=f"event_type IN ({types}) AND _change_type IN ('insert', 'delete')",
            )
            rows += pa.table(feed.read_all()).to_pylist()
            self._through = newest
            millis = table.history(1)[0]["timestamp"]
            self._committed_at = datetime.fromtimestamp(millis / 1000, UTC)
        self._rows = rows
        return NewEvents(rows, self._through, self._committed_at)


def read_table_pandas(uri: str, version: int | None = None) -> pd.DataFrame:
    """Any Delta table of the lake (events, quarantine, a mart) as a pandas DataFrame."""
    return DeltaTable(uri, version=version).to_pandas()


def read_mart_pandas(mart: str, lake_root: str) -> pd.DataFrame:
    """A mart as a pandas DataFrame, for notebooks."""
    return MartFiles(lake_root).table(mart).to_pandas()
