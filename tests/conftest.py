"""Fixtures shared by unit and integration tests: the Flask app with a fake publisher, Spark."""

from __future__ import annotations

import os
import sys

import pytest

from ingest import create_app
from ingest.settings import IngestSettings
from lake.settings import LakeSettings
from tests.helpers.fakes import FakePublisher


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def settings() -> IngestSettings:
    return IngestSettings()


@pytest.fixture
def app(publisher, settings):
    return create_app({"SETTINGS": settings, "PUBLISHER": publisher})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def spark():
    """One local Spark for the whole run; the stack's conf adds the Kafka connector if set up."""
    from pyspark.sql import SparkSession

    from lake.spark_conf import write_spark_conf

    lake = LakeSettings.from_env()
    os.environ["PYSPARK_PYTHON"] = sys.executable  # Python workers run this interpreter
    if (lake.stack_dir / "jars" / "spark").is_dir():
        os.environ["SPARK_CONF_DIR"] = str(write_spark_conf(lake))
    session = (
        SparkSession.builder.master("local[2]")
        .appName("questlog-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.catalogImplementation", "in-memory")
        .getOrCreate()
    )
    yield session
    session.stop()
