"""A fault case's Spark jobs after its fault: land the rest, audit, reconcile.

`make chaos` runs each as its entry point with spark-submit (`SubmittedJobs`), as an operator
would; the test suite runs the same functions in its one Spark session (`SessionJobs`), so a
case costs no JVM start beyond the process it kills.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import traceback
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from chaos.reconcile_job import LINE_PREFIX, reconcile
from jobs import forget_player
from lake.settings import LakeSettings
from runtime.spark_submit import spark_submit_command
from stack.settings import REPO_ROOT
from streaming import land_events
from streaming.audit import audit


@dataclass(frozen=True)
class JobResult:
    """A job's exit code and what it printed (stdout and its log lines)."""

    returncode: int
    output: str


class SubmittedJobs:
    """Each job a `spark-submit` of its entry point, with the case's environment."""

    def __init__(self, env: dict[str, str], timeout: float = 900):
        self.env, self.timeout = env, timeout

    def run(self, script: str, *args: str) -> JobResult:
        result = subprocess.run(
            spark_submit_command(script, *args),
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )
        return JobResult(result.returncode, result.stdout + result.stderr)

    def land(self, *args: str) -> JobResult:
        return self.run("streaming/land_events.py", "--until-caught-up", *args)

    def audit(self) -> JobResult:
        return self.run("streaming/audit.py")

    def forget(self, player_id: str) -> JobResult:
        return self.run("jobs/forget_player.py", "--player", player_id)

    def reconcile(self, accepted_file: Path, erased_file: Path | None = None) -> dict | None:
        files = [str(accepted_file)] + ([str(erased_file)] if erased_file else [])
        output = self.run("chaos/reconcile_job.py", *files).output
        line = next((x for x in output.splitlines() if x.startswith(LINE_PREFIX)), None)
        return None if line is None else json.loads(line.removeprefix(LINE_PREFIX))


class SessionJobs:
    """The same jobs in `spark`, a session of this process with the stack's Spark conf."""

    def __init__(self, spark: SparkSession, env: dict[str, str]):
        self.spark, self.settings = spark, LakeSettings.from_env(env)

    def captured(self, job, *args) -> JobResult:
        """Run `job(*args)`, which returns an exit code; its stdout and the landing log's
        lines become its output."""
        printed = io.StringIO()
        handler = logging.StreamHandler(printed)
        log = logging.getLogger(land_events.log.name)
        log.addHandler(handler)
        try:
            with contextlib.redirect_stdout(printed):
                code = job(*args)
        except Exception:  # noqa: BLE001 - a failed job is an exit code, as under spark-submit
            return JobResult(1, printed.getvalue() + traceback.format_exc())
        finally:
            log.removeHandler(handler)
        return JobResult(code, printed.getvalue())

    def land(self, *args: str) -> JobResult:
        options = land_events.parse_args(["--until-caught-up", *args], self.settings)
        return self.captured(land_events.land, self.spark, self.settings, options)

    def forget(self, player_id: str) -> JobResult:
        def forgotten() -> int:
            return forget_player.run(self.spark, self.settings, forget_player.parse_args(
                ["--player", player_id]
            ))  # fmt: skip

        return self.captured(forgotten)

    def audit(self) -> JobResult:
        def audited() -> int:
            return 0 if audit(self.spark, self.settings, self.settings.topic, 48) else 1

        return self.captured(audited)

    def reconcile(self, accepted_file: Path, erased_file: Path | None = None) -> dict | None:
        return reconcile(self.spark, self.settings.events_path, accepted_file, erased_file)
