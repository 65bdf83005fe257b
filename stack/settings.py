"""Where a stack lives, its ports and its shape: one frozen settings object per topology.

Two topologies share the jars `make setup` resolves:

- `single` (`make up`, the tests): one Kafka broker, one NameNode, one DataNode, Spark in
  local mode. Ports and folders come from `QUESTLOG_<FIELD>` variables.
- `cluster` (`make cluster-up`): three KRaft brokers (each also a controller), a NameNode and
  three DataNodes, a Spark standalone master and two workers. Ports and folders come from
  `QUESTLOG_CLUSTER_<FIELD>` variables, so both topologies can run side by side.

Broker i (from 0) listens on `kafka_port + 2 i` (controller `kafka_controller_port + 2 i`),
DataNode i on its three ports `+ 10 i`, Spark worker i on `spark_worker_port + i` (web UI
`spark_worker_ui_port + i`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from runtime.settings import (
    HDFS_PORT,
    KAFKA_PORT,
    LAKE_FOLDER,
    PREFIX,
    PUSHGATEWAY_PORT,
    REPO_ROOT,
    WEBHDFS_PORT,
    SharedSettings,
    env_overrides,
)

__all__ = ["REPO_ROOT", "StackSettings", "CLUSTER_DEFAULTS", "TOPOLOGIES", "env_variable_names"]
DEFAULT_HOME = SharedSettings().stack_dir
TOPOLOGIES = ("single", "cluster")
# Fields a QUESTLOG_* variable may set; the shape of a topology (node counts, replication,
# heaps) is fixed by the topology itself.
ENV_FIELDS = (
    "stack_dir",
    "kafka_port",
    "kafka_controller_port",
    "hdfs_port",
    "webhdfs_port",
    "datanode_port",
    "datanode_http_port",
    "datanode_ipc_port",
    "spark_master_port",
    "spark_ui_port",
    "spark_worker_port",
    "spark_worker_ui_port",
    "prometheus_port",
    "pushgateway_port",
    "lag_metrics_port",
    "landing_metrics_port",
    "topic",
    "topic_partitions",
    "stack_timeout",
)


@dataclass(frozen=True, kw_only=True)
class StackSettings(SharedSettings):
    """One topology of the local stack (topic and folder: `SharedSettings`): ports, nodes, heaps."""

    topology: str = "single"
    # Where `make setup` put the jars: the single stack's folder, shared by both topologies.
    jars_home: Path = DEFAULT_HOME
    kafka_port: int = KAFKA_PORT
    kafka_controller_port: int = KAFKA_PORT + 1
    hdfs_port: int = HDFS_PORT
    webhdfs_port: int = WEBHDFS_PORT
    datanode_port: int = 9866
    datanode_http_port: int = 9864
    datanode_ipc_port: int = 9867
    spark_master_port: int = 7077
    spark_ui_port: int = 8080
    spark_worker_port: int = 7078
    spark_worker_ui_port: int = 8081
    prometheus_port: int = 9090
    pushgateway_port: int = PUSHGATEWAY_PORT
    # The lag exporter's metrics (streaming/lag_exporter.py) and the landing service's.
    lag_metrics_port: int = 9467
    landing_metrics_port: int = 9466
    # How often Prometheus scrapes and evaluates its rules, and how much it keeps.
    scrape_interval: str = "5s"
    prometheus_retention_time: str = "7d"
    prometheus_retention_size: str = "512MB"
    topic_partitions: int = 3
    stack_timeout: float = 120.0
    brokers: int = 1
    min_insync_replicas: int = 1
    datanodes: int = 1
    dfs_replication: int = 1
    spark_workers: int = 0
    kafka_heap: str = "1g"
    namenode_heap: str = "512m"
    datanode_heap: str = "512m"
    spark_daemon_heap: str = "256m"
    worker_memory: str = "1g"
    worker_cores: int = 1

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, topology: str = "single"
    ) -> StackSettings:
        """The topology's defaults, overridden by its `QUESTLOG_[CLUSTER_]<FIELD>` variables."""
        single = cls(**env_overrides(cls, environ, PREFIX, ENV_FIELDS))
        single = replace(single, jars_home=single.stack_dir)
        if topology == "single":
            return single
        if topology != "cluster":
            raise ValueError(f"unknown topology {topology!r} (choose from {TOPOLOGIES})")
        cluster = replace(CLUSTER_DEFAULTS, jars_home=single.stack_dir)
        overrides = env_overrides(cls, environ, f"{PREFIX}CLUSTER_", ENV_FIELDS, cluster)
        return replace(cluster, **overrides)

    # ------------------------------------------------------------ addresses

    @property
    def broker_ids(self) -> list[int]:
        return list(range(1, self.brokers + 1))

    def broker_port(self, node_id: int) -> int:
        return self.kafka_port + 2 * (node_id - 1)

    def controller_port(self, node_id: int) -> int:
        return self.kafka_controller_port + 2 * (node_id - 1)

    @property
    def kafka_bootstrap(self) -> str:
        """Bootstrap servers for Kafka clients: every broker."""
        return ",".join(f"localhost:{self.broker_port(i)}" for i in self.broker_ids)

    @property
    def controller_voters(self) -> str:
        return ",".join(f"{i}@localhost:{self.controller_port(i)}" for i in self.broker_ids)

    def datanode_ports(self, index: int) -> dict[str, int]:
        """Data transfer, HTTP and IPC ports of DataNode `index` (from 1)."""
        step = 10 * (index - 1)
        return {
            "datanode_port": self.datanode_port + step,
            "datanode_http_port": self.datanode_http_port + step,
            "datanode_ipc_port": self.datanode_ipc_port + step,
        }

    @property
    def hdfs_url(self) -> str:
        """The HDFS file system URL (fs.defaultFS)."""
        return f"hdfs://localhost:{self.hdfs_port}"

    @property
    def webhdfs_url(self) -> str:
        """Base URL of the NameNode's HTTP server (WebHDFS and JMX)."""
        return f"http://localhost:{self.webhdfs_port}"

    @property
    def spark_master_url(self) -> str | None:
        """`spark://…` of the standalone master, or None when Spark runs in local mode."""
        if not self.spark_workers:
            return None
        return f"spark://127.0.0.1:{self.spark_master_port}"

    # ------------------------------------------------------------ folders

    @property
    def jars_dir(self) -> Path:
        return self.jars_home / "jars"

    @property
    def conf_dir(self) -> Path:
        return self.stack_dir / "conf"

    @property
    def data_dir(self) -> Path:
        return self.stack_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.stack_dir / "pids"

    @property
    def scrape_targets_dir(self) -> Path:
        """Where services started on demand (landing, ingest) list themselves for Prometheus."""
        return self.stack_dir / "prometheus-targets"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def ops_page_url(self) -> str:
        return f"{self.prometheus_url}/consoles/questlog.html"

    def client_environment(self) -> dict[str, str]:
        """The QUESTLOG_* variables that point ingest, Spark jobs and tools at this stack."""
        return {
            "QUESTLOG_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "QUESTLOG_TOPIC": self.topic,
            "QUESTLOG_LAKE_ROOT": f"{self.hdfs_url}/{LAKE_FOLDER}",
            "QUESTLOG_WEBHDFS_URL": self.webhdfs_url,
            "QUESTLOG_PUSHGATEWAY_URL": f"http://localhost:{self.pushgateway_port}",
            "QUESTLOG_LANDING_METRICS_BIND": f"127.0.0.1:{self.landing_metrics_port}",
            "QUESTLOG_LAG_METRICS_BIND": f"127.0.0.1:{self.lag_metrics_port}",
            "QUESTLOG_STACK_DIR": str(self.stack_dir),
            "SPARK_CONF_DIR": str(self.spark_conf_dir),
        }


# Ports in 37xxx/38xxx/39xxx stay clear of the single stack's defaults and of 19xxx/29xxx.
CLUSTER_DEFAULTS = StackSettings(
    topology="cluster",
    stack_dir=DEFAULT_HOME / "cluster",
    kafka_port=39092,
    kafka_controller_port=39093,
    hdfs_port=39000,
    webhdfs_port=39870,
    datanode_port=39866,
    datanode_http_port=39864,
    datanode_ipc_port=39867,
    spark_master_port=37077,
    spark_ui_port=38080,
    spark_worker_port=37078,
    spark_worker_ui_port=38081,
    prometheus_port=39090,
    pushgateway_port=39091,
    lag_metrics_port=39467,
    landing_metrics_port=39466,
    brokers=3,
    min_insync_replicas=2,
    datanodes=3,
    dfs_replication=2,
    spark_workers=2,
    kafka_heap="384m",
    namenode_heap="384m",
    datanode_heap="256m",
)


def env_variable_names() -> set[str]:
    """Every QUESTLOG_* variable the stack reads, for both topologies."""
    return {
        f"{prefix}{name.upper()}"
        for prefix in ("QUESTLOG_", "QUESTLOG_CLUSTER_")
        for name in ENV_FIELDS
    }
