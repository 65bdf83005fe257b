"""The one place a SparkSession is built, for spark-submit entry points and tests alike."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from lake.settings import LakeSettings
from lake.spark_conf import write_spark_conf


def spark_session(app_name: str, settings: LakeSettings | None = None) -> SparkSession:
    """A session with the Kafka connector; `spark-defaults.conf` of the stack carries the jars."""
    settings = settings or LakeSettings.from_env()
    # Read by the JVM pyspark launches; spark-submit users export it (the Makefile does).
    if not (settings.spark_conf_dir / "spark-defaults.conf").exists():
        write_spark_conf(settings)
    os.environ.setdefault("SPARK_CONF_DIR", str(settings.spark_conf_dir))
    return SparkSession.builder.appName(app_name).getOrCreate()
