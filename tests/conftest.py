"""Fixtures shared by unit and integration tests: the Flask app with a fake publisher, Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import create_app
from ingest.settings import IngestSettings
from lake.settings import LakeSettings
from lake.spark_conf import SESSION_BASICS
from tests.helpers.fakes import FakePublisher

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items):
    """Every test under tests/integration needs the real stack: mark it `integration`."""
    for item in items:
        if INTEGRATION in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


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


def stack_jars_installed(settings: LakeSettings) -> bool:
    return any((settings.stack_dir / "jars" / "spark").glob("*.jar"))


@pytest.fixture(scope="session")
def spark():
    """One Spark for the whole run, from the project's own builder: Delta, the Kafka
    connector and Python tasks (the landing job's record checks) when the stack's jars are
    set up (`make setup`); a plain local Spark for the pure transforms otherwise."""
    from pyspark.sql import SparkSession

    from lake.session import spark_session

    settings = LakeSettings.from_env()
    if stack_jars_installed(settings):
        session = spark_session("questlog-tests", settings, python_tasks=True)
    else:  # `make test-unit`: the tests marked `tools` (Delta, Kafka) are not run
        builder = SparkSession.builder.master("local[2]").appName("questlog-unit-tests")
        for key, value in SESSION_BASICS.items():
            builder = builder.config(key, value)
        session = builder.config("spark.sql.catalogImplementation", "in-memory").getOrCreate()
    # Test frames are tiny: few shuffle tasks keep each job short.
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()
