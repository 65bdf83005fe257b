"""`make demo`: the whole pipeline on one machine, each step printed with its wall time.

Set-up, the stack (Kafka, HDFS), the topic, the ingest service under gunicorn, the seed's
four curl requests, simulated players over HTTP, kcat reading the topic, then one Spark
session (`jobs/pipeline.py`) that lands the topic, computes every mart with its SQL table and
audits every offset, and the notebooks. The stack is left running afterwards (`make down`
stops it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from ingest.settings import IngestSettings, ServingSettings
from lake.settings import LakeSettings
from runtime.layout import EVENTS_TABLE, QUARANTINE_TABLE
from runtime.marts import MARTS
from runtime.settings import REPO_ROOT
from runtime.spark_submit import spark_environment, spark_submit_command
from stack.ingest_process import ingest_server

NOTEBOOKS = ("player_purchases", "kpis")
TIMES: list[tuple[str, float]] = []
LAKE = LakeSettings.from_env()
# Four weeks of install cohorts: client_ts older than 30 days would be dated when received.
DEMO_DAYS = 28


@contextmanager
def step(title: str):
    print(f"\n==> {title}", flush=True)
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    TIMES.append((title, elapsed))
    print(f"    ({elapsed:.1f} s)", flush=True)


def run(*command: str, env: dict | None = None) -> str:
    """Run a command from the repo root, echoing its output; fail the demo if it fails."""
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env or os.environ, text=True, capture_output=True
    )
    if result.stdout:
        print(result.stdout, end="", flush=True)
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"failed: {' '.join(command)}")
    return result.stdout


def spark_submit(script: str, *args: str) -> str:
    return run(*spark_submit_command(script, *args), env=spark_environment())


def main() -> int:
    manager = (sys.executable, "-m", "stack.manager")
    with step(
        "set-up: Maven jars of Kafka, Hadoop, the Spark connector and Delta, kcat, Spark conf"
    ):
        run(*manager, "setup")
        run(sys.executable, "-m", "lake.spark_conf")
    with step("start the stack: Kafka (KRaft), HDFS NameNode and DataNode"):
        run(*manager, "up")
    with step("create the topic as the seed did (kafka-topics --create --if-not-exists)"):
        run(*manager, "topic")
    log_path = LAKE.stack_dir / "logs" / "ingest.log"
    port = ServingSettings.from_env().port
    with step(f"start the ingest service under gunicorn on :{port}"):
        server = ingest_server(port, log_path=log_path)
        base_url = server.__enter__()
        if IngestSettings.from_env().is_open:
            print(
                "    open: no API keys, anyone on this machine may send events and read players"
                " (local only; `make serve` and docker-compose.yml run in production mode)",
                flush=True,
            )
    try:
        with step("the seed's four curl requests"):
            for route in ["purchase_a_sword", "purchase_a_sword", "", "purchase_a_sword"]:
                run("curl", "-sS", "--fail", f"{base_url}/{route}")
        with step("simulated players over HTTP (single events and gzip batches)"):
            run(
                sys.executable,
                "-m",
                "simulator",
                "--url",
                base_url,
                "--players",
                "300",
                "--days",
                str(DEMO_DAYS),
                "--seed",
                "7",
            )
    finally:
        server.__exit__(None, None, None)
    with step("kcat reads the topic back, as in the seed (first 5 lines shown)"):
        out = run_quiet(
            "kcat", "-C", "-b", LAKE.kafka_bootstrap, "-t", LAKE.topic, "-o", "beginning", "-e"
        )
        lines = out.splitlines()
        print("\n".join(lines[:5]) + f"\n    ... {len(lines)} messages on the topic")
    marts = list(MARTS)
    with step(
        f"one Spark session (spark-submit jobs/pipeline.py): land the topic in HDFS as Delta "
        f"tables, compute the {len(marts)} marts, audit every Kafka offset"
    ):
        spark_submit("jobs/pipeline.py", "--hours", "6")
    title = "run the notebooks top to bottom and render them to HTML, side by side"
    with step(title), ThreadPoolExecutor(len(NOTEBOOKS)) as pool:
        renders = [
            pool.submit(run, sys.executable, "notebooks/render.py", f"notebooks/{name}.ipynb")
            for name in NOTEBOOKS
        ]
        reports = [render.result().strip() for render in renders]
    print("\nSQL tables (spark-sql -e 'SELECT * FROM player_purchases LIMIT 5'):")
    print(f"  {EVENTS_TABLE}, {QUARANTINE_TABLE}, " + ", ".join(marts))
    print("notebooks rendered to: " + ", ".join(reports))
    print("\nwall time per step:")
    for title, elapsed in TIMES:
        print(f"  {elapsed:7.1f} s  {title}")
    print("\nThe stack is still running (kcat, the lake, the notebook); `make down` stops it.")
    return 0


def run_quiet(*command: str) -> str:
    result = subprocess.run(command, cwd=REPO_ROOT, text=True, capture_output=True, check=True)
    return result.stdout


if __name__ == "__main__":
    sys.exit(main())
