"""Clients of the real stack for integration tests: Kafka topics, Spark jobs, marts, notebooks.

They fail the test (never skip it) when a service does not answer or a job fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from chaos.jobs import SessionJobs
from lake.io import read_mart
from runtime.layout import LakeLayout
from runtime.settings import REPO_ROOT, VENV_BIN
from runtime.spark_submit import run_spark_submit, spark_environment, spark_submit_command
from simulator.sender import Sender
from stack.ingest_process import ingest_server
from streaming.batch_record import BatchRecord, read_records

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


def copy_folder(client, source: str, target: str) -> None:
    """Copy an HDFS folder file by file over WebHDFS (`client`: an `hdfs.InsecureClient`): a
    small landed lake, tables and checkpoint, for a test to change without landing it again.
    Delta's logs name their files relative to the table, so the copy is a lake of its own."""
    for folder, _, files in client.walk(source):
        relative = folder[len(source) :]
        client.makedirs(target + relative)
        for name in files:
            with client.read(f"{folder}/{name}") as reader:
                client.write(f"{target}{relative}/{name}", reader.read())


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


def in_session(spark, env: dict) -> SessionJobs:
    """The landing job and the audit in the tests' Spark session, on `env`'s topic and lake."""
    return SessionJobs(spark, {**os.environ, **env})


def land(spark, env: dict, *args: str) -> list[BatchRecord]:
    """Land what `env`'s topic holds (as `land_events.py --until-caught-up`) in the tests'
    Spark session; the batch records. Fails the test when landing fails."""
    result = in_session(spark, env).land(*args)
    if result.returncode != 0:
        pytest.fail(f"landing failed:\n{result.output[-6000:]}")
    return read_records(result.output)


def landing_service(env: dict, *args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    """`land_events.py --service` in its own process group, its batch records on `stdout`
    (a pipe to read, or a file)."""
    return subprocess.Popen(
        spark_submit_command("streaming/land_events.py", "--service", *args),
        cwd=REPO_ROOT,
        env=spark_environment(overrides=env),
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def stop(driver: subprocess.Popen) -> None:
    """Kill a process started by `landing_service`, with its children."""
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()


def audit(spark, env: dict):
    """The completeness audit of `env`'s topic and lake in the tests' Spark session."""
    return in_session(spark, env).audit()


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
    `plots` plots and that the cell drawing each title showed a picture."""
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
    assert html.count("data:image/png;base64") == plots
    cells = nbformat.read(out_dir / f"{name}.ipynb", as_version=4).cells
    for title in titles:
        (cell,) = [c for c in cells if c.cell_type == "code" and title in c.source]
        assert any("image/png" in out.get("data", {}) for out in cell.outputs), title


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
def sent_over_http(
    kafka_admin: str,
    lake_settings,
    webhdfs,
    work: Path,
    events: list[dict],
    env: dict | None = None,
    **send_options,
) -> Iterator[dict]:
    """A topic and lake of their own, and `events` sent over HTTP to the ingest service, which
    logs to that topic. Yields the jobs' `env`, the ingest's `url` (serving until the block
    ends) and the spark-submit options `conf` of a table catalog of its own; the lake is
    removed after."""
    topic = new_topic(kafka_admin)
    folder, lake_root = own_lake(lake_settings.lake_root)
    env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root, **(env or {})}
    try:
        with ingest_server(free_port(), env=env, log_path=work / "ingest.log") as url:
            Sender(url).send_all(events, **send_options)
            yield {"env": env, "url": url, "conf": own_catalog_conf(work), "work": work}
    finally:
        webhdfs.delete(folder, recursive=True)
