"""The real stack for integration tests: Kafka, HDFS and Spark must answer, or the tests fail."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hdfs import InsecureClient

from lake.settings import LakeSettings
from simulator.players import simulate
from stack.ingest_process import ingest_server
from tests.helpers.events import MALFORMED_RECORDS
from tests.helpers.stack import (
    admin_client,
    free_port,
    new_topic,
    own_lake,
    sent_over_http,
    spark_submit,
)


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


# The game the read-only tests share: simulated cohorts over this many days.
GAME_DAYS = 10


@pytest.fixture(scope="session")
def game(kafka_admin, webhdfs, lake_settings, tmp_path_factory):
    """The one landed lake of the run, built from one topic as a user would build it.

    Simulated cohorts sent over HTTP to the ingest service, one of them retried twice with
    its event_id, and records that are not events produced straight into partition 1 with
    kcat; then `spark-submit streaming/land_events.py --until-caught-up` lands them,
    `spark-submit jobs/pipeline.py` (what `make demo` runs) computes every mart with its SQL
    table and audits the offsets, and `spark-submit jobs/player_purchases.py` runs one
    mart's own entry point. Tests only read it; the ingest service keeps serving the player
    endpoint from it.
    """
    first_day = datetime.now(UTC).date() - timedelta(days=GAME_DAYS)
    events = list(simulate(players=150, days=GAME_DAYS, seed=7, first_day=first_day))
    work = tmp_path_factory.mktemp("game")
    env = {
        "QUESTLOG_PLAYER_STATE_REFRESH_S": "0",
        # The player endpoint's first read of the marts runs in the background; on a busy
        # machine it may take longer than the 1 s a request waits for it by default.
        "QUESTLOG_PLAYER_STATE_WAIT_S": "60",
    }
    with sent_over_http(
        kafka_admin,
        lake_settings,
        webhdfs,
        work,
        events,
        env,
        batch_size=100,
        single_every=20,
    ) as sent:
        retried = events[0]
        for _ in range(2):  # a client's retries: the same event_id twice more
            response = requests.post(f"{sent['url']}/v1/events", json=retried, timeout=30)
            assert response.status_code == 202
        subprocess.run(
            ["kcat", "-P", "-b", lake_settings.kafka_bootstrap, "-t", sent["env"]["QUESTLOG_TOPIC"]]
            + ["-p", "1"],
            input="\n".join(MALFORMED_RECORDS) + "\n",
            text=True,
            check=True,
            timeout=60,
        )
        spark_submit("streaming/land_events.py", "--until-caught-up", env=sent["env"])
        pipeline = spark_submit("jobs/pipeline.py", env=sent["env"], conf=sent["conf"])
        as_of = datetime.now(UTC).date()
        spark_submit("jobs/player_purchases.py", env=sent["env"], conf=sent["conf"])
        yield {
            "events": events,
            **sent,
            "retried": retried["event_id"],
            "first_day": first_day,
            "as_of": as_of,
            "log": pipeline.stdout,
        }
