"""The stack's topologies: settings, nodes, rendered configuration and the cluster's Spark conf."""

from __future__ import annotations

import subprocess

from stack.services import Service, hadoop_config, kafka_config, services
from stack.settings import StackSettings
from stack.spark_conf import write_topology_spark_conf


def test_single_topology_keeps_the_ports_and_names_of_the_single_stack():
    single = StackSettings.from_env({})
    assert [s.name for s in services(single)] == [
        "kafka", "namenode", "datanode", "pushgateway", "lag-exporter", "prometheus",
    ]  # fmt: skip
    assert single.prometheus_url == "http://127.0.0.1:9090"
    assert single.kafka_bootstrap == "localhost:9092"
    assert single.spark_master_url is None


def test_cluster_topology_has_its_own_ports_and_folders():
    cluster = StackSettings.from_env({"QUESTLOG_KAFKA_PORT": "19092"}, topology="cluster")
    names = [s.name for s in services(cluster)]
    assert names == [
        "kafka-1", "kafka-2", "kafka-3", "namenode", "datanode-1", "datanode-2", "datanode-3",
        "spark-master", "spark-worker-1", "spark-worker-2",
        "pushgateway", "lag-exporter", "prometheus",
    ]  # fmt: skip
    assert (cluster.prometheus_port, cluster.pushgateway_port) == (39090, 39091)
    assert cluster.kafka_bootstrap == "localhost:39092,localhost:39094,localhost:39096"
    assert cluster.controller_voters == "1@localhost:39093,2@localhost:39095,3@localhost:39097"
    assert cluster.datanode_ports(3) == {
        "datanode_port": 39886, "datanode_http_port": 39884, "datanode_ipc_port": 39887,
    }  # fmt: skip
    # The cluster reads QUESTLOG_CLUSTER_*; jars stay where the single stack resolved them.
    assert cluster.stack_dir.name == "cluster"
    assert cluster.jars_home == StackSettings.from_env({}).stack_dir
    moved = StackSettings.from_env({"QUESTLOG_CLUSTER_KAFKA_PORT": "49092"}, topology="cluster")
    assert moved.broker_port(2) == 49094


def test_brokers_render_a_three_voter_quorum_with_replication_three(tmp_path):
    cluster = StackSettings(**{**StackSettings.from_env({}, topology="cluster").__dict__,
                               "stack_dir": tmp_path})  # fmt: skip
    text = kafka_config(cluster, Service("kafka-2", "kafka", 2)).read_text()
    lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")
    assert lines["node.id"] == "2"
    assert lines["controller.quorum.voters"] == cluster.controller_voters
    assert lines["listeners"].startswith("PLAINTEXT://localhost:39094,")
    assert lines["default.replication.factor"] == lines["offsets.topic.replication.factor"] == "3"
    assert lines["min.insync.replicas"] == lines["transaction.state.log.min.isr"] == "2"
    assert lines["log.dirs"] == str(tmp_path / "data" / "kafka-2")


def test_each_datanode_renders_its_own_ports_folder_and_the_replication(tmp_path):
    cluster = StackSettings(**{**StackSettings.from_env({}, topology="cluster").__dict__,
                               "stack_dir": tmp_path})  # fmt: skip
    conf = hadoop_config(cluster, Service("datanode-3", "datanode", 3))
    text = (conf / "hdfs-site.xml").read_text()
    assert "<value>localhost:39886</value>" in text
    assert f"file://{tmp_path}/data/datanode-3" in text
    assert "<name>dfs.replication</name>\n    <value>2</value>" in text


def test_cluster_executors_start_python_workers_only_for_jobs_that_declare_them(tmp_path):
    jars = tmp_path / "home" / "jars" / "spark"
    jars.mkdir(parents=True)
    (jars / "spark-sql-kafka.jar").touch()
    cluster = StackSettings(**{**StackSettings.from_env({}, topology="cluster").__dict__,
                               "stack_dir": tmp_path / "cluster",
                               "jars_home": tmp_path / "home"})  # fmt: skip
    conf_dir = write_topology_spark_conf(cluster)
    lines = dict(
        line.split(" ", 1) for line in (conf_dir / "spark-defaults.conf").read_text().splitlines()
    )
    assert lines["spark.master"] == "spark://127.0.0.1:37077"
    assert lines["spark.hadoop.dfs.replication"] == "2"
    assert lines["spark.pyspark.driver.python"].endswith(".venv/bin/python")
    # What an executor would start as its Python worker fails, and says why.
    guard = subprocess.run([lines["spark.pyspark.python"], "-m", "pyspark.daemon"],
                           capture_output=True, text=True)  # fmt: skip
    assert guard.returncode != 0
    assert "started a Python worker on an executor" in guard.stderr
    # A job that declares Python tasks (the landing job) gets the driver's Python, which
    # finds the project's modules on the executors' PYTHONPATH.
    declared = subprocess.run(
        [lines["spark.pyspark.python"], "-c", "import events.records, sys; print(sys.prefix)"],
        env={"QUESTLOG_PYTHON_TASKS": "1", "PYTHONPATH": lines["spark.executorEnv.PYTHONPATH"]},
        capture_output=True, text=True,
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr
    assert declared.stdout.strip().endswith(".venv")
