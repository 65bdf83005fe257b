"""The one place a SparkSession is built, for spark-submit entry points and tests alike."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from lake.settings import LakeSettings
from lake.spark_conf import write_spark_conf


def spark_session(
    app_name: str,
    settings: LakeSettings | None = None,
    *,
    catalog: bool = False,
    python_tasks: bool = False,
) -> SparkSession:
    """A session with the Kafka connector (`spark-defaults.conf` of the stack has the jars).

    `catalog=True` opens the persistent table catalog (a Hive metastore in embedded Derby,
    which one process at a time may hold): only the mart jobs register tables, so the
    landing stream and the tests keep to an in-memory catalog and never lock it.

    `python_tasks=True` declares that the job runs Python on its executors (the landing job's
    record checks, a pandas UDF); the cluster topology refuses Python workers to any other.
    """
    settings = settings or LakeSettings.from_env()
    if not (settings.spark_conf_dir / "spark-defaults.conf").exists():
        write_spark_conf(settings)
    # Read by the JVM pyspark launches; spark-submit users export it (the Makefile does).
    os.environ.setdefault("SPARK_CONF_DIR", str(settings.spark_conf_dir))
    # Python workers (the landing job's record checks) run the driver's own interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if not catalog:
        builder = builder.config("spark.sql.catalogImplementation", "in-memory")
    if python_tasks:
        builder = builder.config("spark.executorEnv.QUESTLOG_PYTHON_TASKS", "1")
    return builder.getOrCreate()
