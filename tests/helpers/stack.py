"""Clients of the real stack for integration tests: Kafka topics, Spark jobs, marts, notebooks.

They fail the test (never skip it) when a service does not answer or a job fails.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from lake.io import read_mart
from runtime.layout import LakeLayout
from runtime.settings import REPO_ROOT, VENV_BIN
from runtime.spark_submit import run_spark_submit, spark_environment
from simulator.sender import Sender
from stack.ingest_process import ingest_server

__all__ = ["REPO_ROOT", "VENV_BIN"]


def admin_client(bootstrap: str) -> KafkaAdminClient:
    """A new admin client of the real broker; fails (never skips) when Kafka does not answer.

    New each time: a client kept across a broker restart (the outage test) stays broken.
    """
    try:
        return KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=10_000)
    except KafkaError as error:
        pytest.fail(f"Kafka at {bootstrap} does not answer: {error!r}")


def new_topic(bootstrap: str, partitions: int = 3) -> str:
    """A topic of its own for one test, so tests never see each other's events."""
    name = f"events-test-{uuid.uuid4().hex[:10]}"
    admin = admin_client(bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def own_lake(lake_root: str) -> tuple[str, str]:
    """A folder of its own on the lake's HDFS for one test: (its path, its hdfs:// root)."""
    folder = f"/questlog-tests/{uuid.uuid4().hex[:10]}"
    namenode = lake_root.split("/")[2]
    return folder, f"hdfs://{namenode}{folder}"


def own_catalog_conf(folder: Path) -> list[str]:
    """spark-submit options giving a test its own table catalog, not the user's."""
    return [
        "--conf",
        f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={folder}/metastore;create=true",
        "--conf",
        f"spark.sql.warehouse.dir={folder}/warehouse",
    ]


def spark_submit(
    script: str, *args: str, env: dict | None = None, check=True, conf: list[str] | None = None
):
    """Run a project entry point with spark-submit, as a user would."""
    result = run_spark_submit(script, *args, env=env, options=conf or [])
    if check and result.returncode != 0:
        pytest.fail(f"{script} failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


def spark_sql(query: str, *, env: dict, conf: list[str], cwd: Path, timeout: float = 300) -> str:
    """`spark-sql -e query` with a test's lake and catalog; its output."""
    result = subprocess.run(
        [str(VENV_BIN / "spark-sql"), *conf, "-S", "-e", query],
        cwd=cwd,
        env=spark_environment(overrides=env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def mart_frame(spark, env: dict, mart: str) -> pd.DataFrame:
    """A mart of the test's lake (`QUESTLOG_LAKE_ROOT` of `env`) as pandas, without computed_at."""
    path = LakeLayout(env["QUESTLOG_LAKE_ROOT"]).mart_path(mart)
    return read_mart(spark, path).drop("computed_at").toPandas()


def rendered_notebook(name: str, env: dict, out_dir: Path, plots: int, titles: list[str]) -> None:
    """Run notebooks/<name>.ipynb top to bottom against the test's lake; check its HTML has
    at least `plots` plots and every title."""
    result = subprocess.run(
        [
            sys.executable,
            "notebooks/render.py",
            f"notebooks/{name}.ipynb",
            "--out-dir",
            str(out_dir),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    html = (out_dir / f"{name}.html").read_text()
    assert html.count("data:image/png;base64") >= plots
    for title in titles:
        assert title in html


def consume_all(bootstrap: str, topic: str) -> list:
    """Every record on the topic now, read from the beginning of each partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    end = consumer.end_offsets(partitions)
    records = []
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(batch)
    consumer.close()
    return records


@contextlib.contextmanager
def sent_and_landed(
    kafka_admin: str,
    lake_settings,
    webhdfs,
    work: Path,
    events: list[dict],
    env: dict | None = None,
    land: bool = True,
    **send_options,
) -> Iterator[dict]:
    """A topic and lake of their own; `events` sent over HTTP to the ingest service, then
    landed (unless `land` is false: the caller lands them). Yields the jobs' `env`, the
    ingest's `url` (serving until the block ends) and the spark-submit options `conf` of a
    table catalog of its own; the lake is removed after."""
    topic = new_topic(kafka_admin)
    folder, lake_root = own_lake(lake_settings.lake_root)
    env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root, **(env or {})}
    try:
        with ingest_server(free_port(), env=env, log_path=work / "ingest.log") as url:
            Sender(url).send_all(events, **send_options)
            if land:
                spark_submit("streaming/land_events.py", "--until-caught-up", env=env)
            yield {"env": env, "url": url, "conf": own_catalog_conf(work), "work": work}
    finally:
        webhdfs.delete(folder, recursive=True)
