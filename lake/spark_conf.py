"""Writes the stack's Spark configuration: `python -m lake.spark_conf`.

`spark-defaults.conf` carries the Kafka connector's and Delta Lake's jars (`spark.jars`) and
Delta's SQL extension and catalog, so that both `spark-submit` (with SPARK_CONF_DIR exported)
and sessions started from Python find them.
"""

from __future__ import annotations

from pathlib import Path

from lake.settings import LakeSettings

LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.questlog.name = org.apache.spark.sql.execution.streaming
logger.questlog.level = warn
"""

# What every session of questlog's runs with, also one without the stack's jars (tests/conftest.py):
# no Spark UI (the services export their own metrics), UTC timestamps.
SESSION_BASICS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
}


def default_entries(settings: LakeSettings) -> dict[str, str]:
    """spark-defaults.conf of the single topology (local mode), entry by entry: every other
    topology's (stack/spark_conf.py: the local cluster, the containers) starts from these."""
    jars = sorted((settings.stack_dir / "jars" / "spark").glob("*.jar"))
    if not jars:
        raise FileNotFoundError(
            f"no Kafka connector or Delta jars in {settings.stack_dir}/jars/spark: run `make setup`"
        )
    warehouse = settings.stack_dir / "data" / "spark-warehouse"
    metastore = settings.stack_dir / "data" / "metastore_db"
    lines = {
        "spark.jars": ",".join(str(jar) for jar in jars),
        **SESSION_BASICS,
        "spark.sql.shuffle.partitions": "4",
        # In the landing service the marts follow the stream in the same session: landing's
        # jobs run in a pool of their own (streaming.sink.LANDING_POOL), which shares the
        # cores with the marts' jobs instead of queueing behind a whole marts run.
        "spark.scheduler.mode": "FAIR",
        "spark.driver.memory": "2g",
        "spark.sql.warehouse.dir": str(warehouse),
        # Tables of the lake and the marts persist between runs in a local Hive metastore.
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore};create=true"
        ),
        # The lake's tables are Delta tables: its SQL (MERGE, OPTIMIZE, DESCRIBE HISTORY) and
        # its catalog, which keeps a Delta table's schema in its log, not in the metastore.
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Rebuilding a table's snapshot from its log is a Spark job of this many tasks, run by
        # every write and read; Delta's default of 50 is sized for clusters, not two cores.
        "spark.databricks.delta.snapshotPartitions": "4",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={settings.stack_dir / 'data'}",
        # Closing a file on HDFS waits until the DataNodes report its last block, and asks
        # again after 400 ms, doubling, by default: a small landing batch writes a file per
        # key-index bucket and date, and spent most of its time in those waits. Asking after
        # 20 ms, doubling over 10 tries, gives up after about as long as the default did.
        "spark.hadoop.dfs.client.block.write.locateFollowingBlock.initial.delay.ms": "20",
        "spark.hadoop.dfs.client.block.write.locateFollowingBlock.retries": "10",
        # Writers choose a file's replication: the single stack has one DataNode (the cluster
        # topology writes its own value, stack/spark_conf.py).
        "spark.hadoop.dfs.replication": "1",
    }
    return lines


def render(entries: dict[str, str]) -> str:
    """The text of a spark-defaults.conf."""
    return "".join(f"{key} {value}\n" for key, value in entries.items())


def spark_defaults(settings: LakeSettings) -> str:
    """The text of spark-defaults.conf for this stack."""
    return render(default_entries(settings))


def write_spark_conf(settings: LakeSettings) -> Path:
    """Write spark-defaults.conf and log4j2.properties into the stack's Spark conf dir."""
    conf_dir = settings.spark_conf_dir
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "spark-defaults.conf").write_text(spark_defaults(settings))
    (conf_dir / "log4j2.properties").write_text(LOG4J2)
    # Keep the driver on loopback, beside the stack's services.
    (conf_dir / "spark-env.sh").write_text("export SPARK_LOCAL_IP=127.0.0.1\n")
    return conf_dir


if __name__ == "__main__":
    print(f"wrote {write_spark_conf(LakeSettings.from_env())}")
