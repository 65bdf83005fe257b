"""The Spark configuration of a topology's jobs (landing, audit, marts): spark-defaults.conf.

The single topology uses lake.spark_conf as it is (local mode). The cluster topology starts
from the same defaults and submits to its standalone master, writes with the cluster's HDFS
replication, and keeps its own table catalog. Executors run the driver's Python with the
project on its path (docker-compose.yml runs the workers from the driver's image, for the
same reason), but only for a job that declares Python tasks: the landing job's record checks
(`lake.session.spark_session(python_tasks=True)`). Any other job (the marts, the audit) is a
DataFrame plan that needs no Python worker; one that starts one fails, naming the cause.
"""

from __future__ import annotations

from pathlib import Path

from lake.settings import LakeSettings
from lake.spark_conf import LOG4J2, spark_defaults, write_spark_conf
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
    base = spark_defaults(LakeSettings(stack_dir=settings.jars_home))
    entries = dict(line.split(" ", 1) for line in base.splitlines() if line.strip())
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


def write_topology_spark_conf(settings: StackSettings) -> Path:
    """Write the topology's Spark conf folder (SPARK_CONF_DIR of its jobs) and return it."""
    if not settings.spark_workers:
        return write_spark_conf(LakeSettings(stack_dir=settings.stack_dir))
    conf_dir = settings.spark_conf_dir
    conf_dir.mkdir(parents=True, exist_ok=True)
    entries = cluster_defaults(settings)
    (conf_dir / "spark-defaults.conf").write_text(
        "".join(f"{key} {value}\n" for key, value in entries.items())
    )
    (conf_dir / "log4j2.properties").write_text(LOG4J2)
    (conf_dir / "spark-env.sh").write_text("export SPARK_LOCAL_IP=127.0.0.1\n")
    guard = Path(entries["spark.pyspark.python"])
    guard.parent.mkdir(parents=True, exist_ok=True)
    guard.write_text(PYTHON_WORKER_GUARD.replace("{python}", str(VENV_BIN / "python")))
    guard.chmod(0o755)
    return conf_dir
