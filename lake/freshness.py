"""How fresh the lake's tables are, as Prometheus metrics.

A table's freshness is now minus the newest event it reflects. The metrics hold the newest
event's time (`questlog_table_newest_event_timestamp_seconds{table}`), so that Prometheus
computes the age at any moment (`time() - ...`), with the time of the table's last write and
the `events` version it reflects. The landing service and the marts that follow the stream in
it export them on its own port; a batch job (`jobs/run_marts.py`, the audit) pushes them to
the Pushgateway at `pushgateway_url`, grouped by job and lake.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

log = logging.getLogger("questlog.metrics")
PUSH_TIMEOUT_S = 5


def newest_received_s(events_uri: str, version: int | None = None) -> float | None:
    """The newest `received_at` (Unix seconds) of a version of `events`, from its files'
    statistics: no data file is read. None for a table without rows or statistics."""
    actions = pa.table(DeltaTable(events_uri, version=version).get_add_actions(True))
    column = "max.received_at"
    if actions.num_rows == 0 or column not in actions.schema.names:
        return None
    newest = pc.max(actions[column]).as_py()
    return None if newest is None else newest.timestamp()


class TableFreshness:
    """The freshness gauges, in a registry of the caller's."""

    def __init__(self, registry: CollectorRegistry):
        self.newest = Gauge(
            "questlog_table_newest_event_timestamp_seconds",
            "the received_at of the newest event a table reflects (Unix time)",
            ["table"],
            registry=registry,
        )
        self.refreshed = Gauge(
            "questlog_table_last_refresh_timestamp_seconds",
            "when a table was last written (Unix time)",
            ["table"],
            registry=registry,
        )
        self.version = Gauge(
            "questlog_table_events_version",
            "the events table version a table reflects",
            ["table"],
            registry=registry,
        )

    def record(
        self, tables: Iterable[str], newest_s: float | None, version: int | None, at: float
    ) -> None:
        for table in tables:
            if newest_s is not None:
                self.newest.labels(table).set(newest_s)
            if version is not None:
                self.version.labels(table).set(version)
            self.refreshed.labels(table).set(at)

    def marts_written(self, events_uri: str, names: Iterable[str], version: int) -> None:
        """The marts `names` now reflect `events` at `version`."""
        self.record(names, newest_received_s(events_uri, version), version, time.time())


def push(registry: CollectorRegistry, gateway_url: str, job: str, lake_root: str) -> bool:
    """Push a batch job's metrics, grouped by job and lake (a push replaces that group's
    last). A gateway that does not answer costs a warning, never the job's result."""
    if not gateway_url:
        return False
    try:
        push_to_gateway(
            gateway_url,
            job=job,
            registry=registry,
            grouping_key={"lake": lake_root},
            timeout=PUSH_TIMEOUT_S,
        )
    except OSError as error:
        log.warning("metrics not pushed to %s: %s", gateway_url, error)
        print(f"warning: metrics not pushed to {gateway_url}: {error}", flush=True)
        return False
    return True


def push_marts_freshness(
    gateway_url: str, lake_root: str, events_uri: str, names: list[str], version: int
) -> bool:
    """A batch run's marts: their freshness, pushed."""
    registry = CollectorRegistry()
    TableFreshness(registry).marts_written(events_uri, names, version)
    return push(registry, gateway_url, "questlog_marts", lake_root)
