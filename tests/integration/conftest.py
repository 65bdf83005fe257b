"""The real stack for integration tests: Kafka, HDFS and Spark must answer, or the tests fail."""

from __future__ import annotations

import os

import pytest
import requests
from hdfs import InsecureClient

from lake.settings import LakeSettings
from stack.ingest_process import ingest_server
from tests.helpers.stack import admin_client, free_port, new_topic, own_lake


@pytest.fixture(scope="session")
def lake_settings() -> LakeSettings:
    return LakeSettings.from_env()


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


@pytest.fixture
def topic(kafka_admin) -> str:
    return new_topic(kafka_admin)


@pytest.fixture
def lake_root(webhdfs, lake_settings) -> str:
    """A lake of its own on HDFS for one test, removed afterwards."""
    folder, root = own_lake(lake_settings.lake_root)
    yield root
    webhdfs.delete(folder, recursive=True)


@pytest.fixture
def ingest_url(topic, tmp_path):
    """The ingest service under gunicorn, logging to this test's topic."""
    with ingest_server(
        free_port(), env={"QUESTLOG_TOPIC": topic}, log_path=tmp_path / "ingest.log"
    ) as url:
        yield url
