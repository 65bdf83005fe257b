"""The marts following the stream: in the landing service, a thread that computes the marts
again whenever `events` has a newer version than they reflect, at most every `every_s`.

It shares the landing job's Spark session (one JVM, the jobs of both interleave) and never
stops landing: a run that fails is logged and tried again at the next turn. Each mart's
commit records the `events` version it reflects (`lake.files.events_version_of`).
"""

from __future__ import annotations

import logging
import threading
import time

from deltalake.exceptions import TableNotFoundError
from pyspark.sql import SparkSession

from jobs.run_marts import compute_marts
from lake.files import events_version_of, table_version
from lake.freshness import TableFreshness
from lake.settings import LakeSettings
from runtime.marts import MARTS

log = logging.getLogger("questlog.marts")


class MartsFollower:
    """Keeps every mart at the newest `events` version, checking every `every_s`."""

    def __init__(
        self,
        spark: SparkSession,
        settings: LakeSettings,
        events_path: str,
        every_s,
        freshness: TableFreshness | None = None,
    ):
        self.spark = spark
        self.freshness = freshness
        self.settings = settings
        self.events_path = events_path
        self.every_s = every_s
        # Marts computed before this process started count: their version is in their log.
        versions = [events_version_of(settings.mart_path(name)) for name in MARTS]
        self.version = None if None in versions else min(versions)
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="marts", daemon=True)

    def start(self) -> MartsFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Let a run under way finish, then end."""
        self._stop.set()
        self._thread.join()

    def _follow(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.refresh_if_behind()
            except Exception:  # the lake or a job failed: landing goes on, the next turn retries
                log.exception("the marts run failed; trying again in %s s", self.every_s)

    def refresh_if_behind(self) -> bool:
        """Compute the marts if `events` has a version they do not reflect; whether it ran."""
        try:
            newest = table_version(self.events_path)
        except TableNotFoundError:  # nothing landed yet: nothing to follow
            return False
        if self.version is not None and newest <= self.version:
            return False
        started = time.perf_counter()
        self.version = compute_marts(
            self.spark,
            self.settings,
            list(MARTS),
            self.events_path,
            tables=False,
            freshness=self.freshness,
        )
        self.runs += 1
        log.info(
            "marts at events version %d in %.1f s", self.version, time.perf_counter() - started
        )
        return True
