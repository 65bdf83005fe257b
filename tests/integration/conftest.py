"""The real stack for integration tests: Kafka, HDFS and Spark must answer, or the tests fail."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from hdfs import InsecureClient
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from lake.settings import LakeSettings
from stack.ingest_process import ingest_server

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def lake_settings() -> LakeSettings:
    return LakeSettings.from_env()


def admin_client(bootstrap: str) -> KafkaAdminClient:
    """A new admin client of the real broker; fails (never skips) when Kafka does not answer.

    New each time: a client kept across a broker restart (the outage test) stays broken.
    """
    try:
        return KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=10_000)
    except KafkaError as error:
        pytest.fail(f"Kafka at {bootstrap} does not answer: {error!r}")


@pytest.fixture(scope="session")
def kafka_admin(lake_settings) -> str:
    """The bootstrap address of a broker that answered; `new_topic` takes it."""
    admin_client(lake_settings.kafka_bootstrap).close()
    return lake_settings.kafka_bootstrap


@pytest.fixture(scope="session")
def webhdfs(lake_settings) -> InsecureClient:
    """A WebHDFS client; fails (never skips) when HDFS does not answer."""
    try:
        requests.get(
            f"{lake_settings.webhdfs_url}/webhdfs/v1/?op=LISTSTATUS", timeout=10
        ).raise_for_status()
    except requests.RequestException as error:
        pytest.fail(f"WebHDFS at {lake_settings.webhdfs_url} does not answer: {error!r}")
    return InsecureClient(lake_settings.webhdfs_url, user=os.environ.get("USER", "root"))


def new_topic(bootstrap: str, partitions: int = 3) -> str:
    """A topic of its own for one test, so tests never see each other's events."""
    name = f"events-test-{uuid.uuid4().hex[:10]}"
    admin = admin_client(bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    return name


@pytest.fixture
def topic(kafka_admin) -> str:
    return new_topic(kafka_admin)


@pytest.fixture
def lake_root(webhdfs, lake_settings) -> str:
    """A lake of its own on HDFS for one test, removed afterwards."""
    folder = f"/questlog-tests/{uuid.uuid4().hex[:10]}"
    namenode = lake_settings.lake_root.split("/")[2]
    yield f"hdfs://{namenode}{folder}"
    webhdfs.delete(folder, recursive=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ingest_url(topic, tmp_path):
    """The ingest service under gunicorn, logging to this test's topic."""
    with ingest_server(
        free_port(), env={"QUESTLOG_TOPIC": topic}, log_path=tmp_path / "ingest.log"
    ) as url:
        yield url


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
    environ = {
        **os.environ,
        "SPARK_CONF_DIR": str(LakeSettings.from_env().spark_conf_dir),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        **(env or {}),
    }
    result = subprocess.run(
        [str(VENV_BIN / "spark-submit"), *(conf or []), script, *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{script} failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result
