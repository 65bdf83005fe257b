"""The Spark configuration of a topology's jobs (landing, audit, marts): spark-defaults.conf.

The one source of every topology's Spark configuration. The single topology uses
lake.spark_conf as it is (local mode). The cluster topology starts from the same defaults and
submits to its standalone master, writes with the cluster's HDFS replication, and keeps its
own table catalog. The compose topology is the cluster topology in containers: the spark
image writes its conf at build time (`python -m stack.spark_conf compose`, Dockerfile) with
the containers' host names and paths. Executors run the driver's Python with the
project on its path (docker-compose.yml runs the workers from the driver's image, for the
same reason), but only for a job that declares Python tasks: the landing job's record checks
(`lake.session.spark_session(python_tasks=True)`). Any other job (the marts, the audit) is a
DataFrame plan that needs no Python worker; one that starts one fails, naming the cause.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from lake.settings import LakeSettings
from lake.spark_conf import LOG4J2, default_entries, render, write_spark_conf
from stack.services import VENV_BIN
from stack.settings import REPO_ROOT, StackSettings

PYTHON_WORKER_GUARD = """\
#!/bin/sh
# The executors' Python on the local cluster (stack/spark_conf.py): the driver's, for a job
# that declares Python tasks (spark.executorEnv.QUESTLOG_PYTHON_TASKS).
if [ -n "$QUESTLOG_PYTHON_TASKS" ]; then exec {python} "$@"; fi
echo "questlog: this Spark job started a Python worker on an executor ($0 $*)." >&2
echo "questlog: build frames without Python tasks (no Python UDFs, no local rows)," >&2
echo "questlog: or declare them: lake.session.spark_session(python_tasks=True)." >&2
exit 3
"""


def cluster_defaults(settings: StackSettings) -> dict[str, str]:
    """spark-defaults.conf entries of the cluster topology."""
    entries = default_entries(LakeSettings(stack_dir=settings.jars_home))
    guard = settings.stack_dir / "bin" / "python-worker-guard"
    entries |= {
        "spark.master": settings.spark_master_url,
        "spark.hadoop.dfs.replication": str(settings.dfs_replication),
        "spark.driver.memory": "1g",
        "spark.executor.memory": "640m",
        "spark.executor.cores": str(settings.worker_cores),
        "spark.sql.shuffle.partitions": str(2 * settings.spark_workers),
        "spark.sql.warehouse.dir": str(settings.data_dir / "spark-warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={settings.data_dir / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={settings.data_dir}",
        "spark.pyspark.driver.python": str(VENV_BIN / "python"),
        "spark.pyspark.python": str(guard),
        # The project's modules (the record checks) for the Python tasks that may run.
        "spark.executorEnv.PYTHONPATH": str(REPO_ROOT),
    }
    return entries


# The compose topology's containers (Dockerfile, target spark; docker-compose.yml).
COMPOSE_MASTER_URL = "spark://spark-master:7077"
COMPOSE_HOME = Path("/opt/questlog")
COMPOSE_PYTHON = Path("/opt/venv/bin/python")
COMPOSE_CODE = Path("/app")
# Drivers and workers name themselves by address: a container's host name (a random id for
# `docker-compose run`) is not one the other containers resolve. The master sets its name.
COMPOSE_SPARK_ENV = (
    'export SPARK_LOCAL_HOSTNAME="${SPARK_LOCAL_HOSTNAME:-$(hostname -i | cut -d " " -f 1)}"\n'
)


def compose_defaults(cluster: StackSettings, home_dir: Path = COMPOSE_HOME) -> dict[str, str]:
    """spark-defaults.conf entries of the compose topology: the cluster topology's, with the
    containers' master, paths (under `home_dir`, the image's) and Python."""
    home = replace(cluster, stack_dir=home_dir, jars_home=home_dir)
    entries = cluster_defaults(home)
    data = home.data_dir
    return entries | {
        "spark.master": COMPOSE_MASTER_URL,
        "spark.pyspark.driver.python": str(COMPOSE_PYTHON),
        "spark.pyspark.python": str(home.stack_dir / "bin" / "python-worker-guard"),
        "spark.executorEnv.PYTHONPATH": str(COMPOSE_CODE),
        "spark.sql.warehouse.dir": str(data / "spark-warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={data}",
    }


def write_conf(conf_dir: Path, entries: dict[str, str], spark_env: str, python: Path) -> Path:
    """Write a Spark conf folder and the executors' Python guard it names."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "spark-defaults.conf").write_text(render(entries))
    (conf_dir / "log4j2.properties").write_text(LOG4J2)
    (conf_dir / "spark-env.sh").write_text(spark_env)
    guard = Path(entries["spark.pyspark.python"])
    guard.parent.mkdir(parents=True, exist_ok=True)
    guard.write_text(PYTHON_WORKER_GUARD.replace("{python}", str(python)))
    guard.chmod(0o755)
    return conf_dir


def write_compose_spark_conf() -> Path:
    """Write the compose topology's Spark conf folder (the spark image's SPARK_CONF_DIR)."""
    cluster = StackSettings.from_env({}, topology="cluster")
    conf_dir = COMPOSE_HOME / "conf" / "spark"
    return write_conf(conf_dir, compose_defaults(cluster), COMPOSE_SPARK_ENV, COMPOSE_PYTHON)


def write_topology_spark_conf(settings: StackSettings) -> Path:
    """Write the topology's Spark conf folder (SPARK_CONF_DIR of its jobs) and return it."""
    if not settings.spark_workers:
        return write_spark_conf(LakeSettings(stack_dir=settings.stack_dir))
    spark_env = "export SPARK_LOCAL_IP=127.0.0.1\n"
    return write_conf(
        settings.spark_conf_dir, cluster_defaults(settings), spark_env, VENV_BIN / "python"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["compose"]:
        sys.exit("usage: python -m stack.spark_conf compose")
    print(f"wrote {write_compose_spark_conf()}")
