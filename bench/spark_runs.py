"""Running spark-submit as a user would, timing it, and reading stage times from its event log."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from runtime.settings import REPO_ROOT
from runtime.spark_submit import conf_options, spark_environment, spark_submit_command


def spark_submit(script: str, *args: str, env: dict, event_log_dir: Path) -> dict:
    """Run `script` with spark-submit and an event log; its wall time, output and log file."""
    event_log_dir.mkdir(parents=True, exist_ok=True)
    before = set(event_log_dir.iterdir())
    environ = spark_environment(overrides=env)
    conf = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": event_log_dir.as_uri(),
        "spark.eventLog.compress": "false",
        "spark.eventLog.rolling.enabled": "false",
    }
    options = conf_options(conf)
    started = time.perf_counter()
    result = subprocess.run(
        spark_submit_command(script, *args, options=options),
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    logs = sorted(set(event_log_dir.iterdir()) - before)
    return {
        "seconds": seconds,
        "stdout": result.stdout,
        "event_log": logs[-1] if logs else None,
    }


def stage_times(event_log: Path, count: int = 8) -> dict:
    """From a Spark event log: the app's time in jobs, and its slowest stages with task time."""
    stages: dict[tuple, dict] = {}
    task_ms: dict[tuple, int] = {}
    jobs: dict[int, list] = {}
    app = {}
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        kind = event["Event"]
        if kind == "SparkListenerApplicationStart":
            app["start"] = event["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            app["end"] = event["Timestamp"]
        elif kind == "SparkListenerJobStart":
            jobs[event["Job ID"]] = [event["Submission Time"], None]
        elif kind == "SparkListenerJobEnd" and event["Job ID"] in jobs:
            jobs[event["Job ID"]][1] = event["Completion Time"]
        elif kind == "SparkListenerTaskEnd":
            key = (event["Stage ID"], event["Stage Attempt ID"])
            metrics = event.get("Task Metrics") or {}
            task_ms[key] = task_ms.get(key, 0) + metrics.get("Executor Run Time", 0)
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            key = (info["Stage ID"], info.get("Stage Attempt ID", 0))
            stages[key] = {
                "stage": info["Stage ID"],
                "name": info["Stage Name"],
                "tasks": info["Number of Tasks"],
                "seconds": (info["Completion Time"] - info["Submission Time"]) / 1000,
            }
    for key, stage in stages.items():
        stage["task_seconds"] = task_ms.get(key, 0) / 1000
    # Jobs of concurrent queries overlap: count the time any job ran, once.
    in_jobs, covered_until = 0, 0
    for start, end in sorted((s, e) for s, e in jobs.values() if e is not None):
        in_jobs += max(end - max(start, covered_until), 0)
        covered_until = max(covered_until, end)
    in_jobs /= 1000
    slowest = sorted(stages.values(), key=lambda s: s["seconds"], reverse=True)[:count]
    return {
        "app_seconds": (app["end"] - app["start"]) / 1000 if len(app) == 2 else None,
        "job_seconds": in_jobs,
        "stages": len(stages),
        "stage_seconds": sum(s["seconds"] for s in stages.values()),
        "slowest_stages": slowest,
    }
