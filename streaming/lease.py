"""One landing job per `events` table at a time: a lease beside the table.

The landing job takes the lease (`<events>.landing-lease`, on the lake's file system) before
its query starts, renews it every `ttl_s / 6` while it runs and gives it back when it ends. A
second landing job on the same table — with the same checkpoint or another — finds the lease
held and renewed, waits one lease term in case its holder died, and is then refused with an
error that names the holder. A holder that died (kill -9, a lost machine) renews no more: its
lease lapses after `ttl_s` and the next job takes it over, so a crash never blocks a restart
for longer than that.

Taking is atomic on HDFS: a new lease is created only if none exists, and a lapsed one is
moved aside by a rename that only one taker can win. A holder that stalls past `ttl_s` (a
SIGSTOP, a long pause) may find the lease taken when it runs again: it sees another owner at
its next renewal and stops. Should it write one more batch before that, the checkpoint's
offset log lets only one query plan each batch, and Delta's txnAppId/txnVersion make a
batch written twice land once (`streaming.sink`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

log = logging.getLogger("questlog.lease")


class LeaseHeld(Exception):
    """Another landing job holds the lease of the table."""


def lease_path(events_path: str) -> str:
    """Where the lease of an `events` table lives: beside it, not in its folder."""
    return f"{events_path.rstrip('/')}.landing-lease"


class LandingLease:
    """The lease of one `events` table, held by this process while its landing job runs."""

    def __init__(self, spark: SparkSession, events_path: str, ttl_s: float, clock=time.time):
        jvm = spark._jvm
        self.uri = lease_path(events_path)
        self._path = jvm.org.apache.hadoop.fs.Path(self.uri)
        self._fs = self._path.getFileSystem(spark._jsc.hadoopConfiguration())
        self._jvm = jvm
        self.ttl_s = ttl_s
        self.clock = clock
        self.owner = f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:8]})"
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # ------------------------------------------------------------ the file

    def holder(self) -> tuple[str, float] | None:
        """The lease's owner and seconds since it was last renewed; None when there is none."""
        try:
            status = self._fs.getFileStatus(self._path)
            stream = self._fs.open(self._path)
            try:
                owner = self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
            finally:
                stream.close()
        except Py4JJavaError as error:
            if "FileNotFoundException" in str(error.java_exception):
                return None
            raise
        return owner, self.clock() - status.getModificationTime() / 1000

    def _create(self) -> bool:
        """Create the lease with this process as owner, unless a lease exists."""
        try:
            stream = self._fs.create(self._path, False)
        except Py4JJavaError as error:
            if "FileAlreadyExistsException" in str(error.java_exception):
                return False
            raise
        try:
            stream.write(bytearray(self.owner.encode()))
        finally:
            stream.close()
        return True

    def _take(self) -> bool:
        """Take the lease if it is free or lapsed."""
        held = self.holder()
        if held is not None:
            owner, age = held
            if age < self.ttl_s:
                return False
            aside = self._jvm.org.apache.hadoop.fs.Path(f"{self.uri}.lapsed-{uuid.uuid4().hex}")
            # Of two jobs taking a lapsed lease, one wins the rename.
            if not self._fs.rename(self._path, aside):
                return False
            self._fs.delete(aside, False)
            log.warning("took over the landing lease of %s, unrenewed for %.0f s", owner, age)
        return self._create()

    # ------------------------------------------------------------ holding it

    def acquire(self, wait_s: float | None = None) -> None:
        """Take the lease, waiting up to `wait_s` (default: one term and a renewal) for a
        holder's lease to lapse; LeaseHeld when it is still renewed then."""
        wait_s = self.ttl_s * 7 / 6 if wait_s is None else wait_s
        deadline = self.clock() + wait_s
        while not self._take():
            held = self.holder()
            if self.clock() >= deadline and held is not None:
                owner, age = held
                raise LeaseHeld(
                    f"another landing job lands into this table: {owner} holds {self.uri} "
                    f"(renewed {age:.0f} s ago). Stop that job first; a job that died gives "
                    f"its lease up {self.ttl_s:.0f} s after its last renewal."
                )
            time.sleep(min(self.ttl_s / 6, 1.0))
        self._renew_thread_start()
        log.info("landing lease %s taken by %s", self.uri, self.owner)

    def _renew_thread_start(self) -> None:
        self._renewer = threading.Thread(target=self._renew, name="landing-lease", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 6):
            try:
                held = self.holder()
                if held is None or held[0] != self.owner:
                    log.error("the landing lease was taken over by %s", held and held[0])
                    self.lost.set()
                    return
                self._fs.setTimes(self._path, int(self.clock() * 1000), -1)
            except Exception as error:  # the file system away for a while: try again
                log.warning("the landing lease could not be renewed: %r", error)

    def release(self) -> None:
        """Stop renewing, and delete the lease if it is still this process's."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            held = self.holder()
            if held is not None and held[0] == self.owner:
                self._fs.delete(self._path, False)
        except Exception as error:  # it lapses on its own
            log.warning("the landing lease could not be given back: %r", error)
