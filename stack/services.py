"""The services of a topology: for each node its command, its configuration and storage.

A `Service` names one node (`kafka`, `datanode-2`, `spark-worker-1`, ...); `services()` lists
a topology's nodes in start order; `prepare()` renders a node's configuration and formats its
storage on first start; `command()` is its full command line and environment. Whether a node
answers is `stack.probes.ready()`.
"""

from __future__ import annotations

import base64
import os
import shutil
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime.settings import VENV_BIN
from stack import prometheus
from stack.processes import StackError, run_logged, tags
from stack.settings import StackSettings

CONF_SRC = Path(__file__).resolve().parent / "conf"
# Fixed, so a recreated NameNode and a surviving DataNode accept each other (docker-compose.yml
# sets the same ID through HDFS_CLUSTER_ID, which stack/images/hdfs.sh formats with).
HDFS_CLUSTER_ID = "CID-questlog"
KINDS = (
    "kafka",
    "namenode",
    "datanode",
    "spark-master",
    "spark-worker",
    "pushgateway",
    "lag-exporter",
    "prometheus",
)
# Watching the others, in both topologies: started last, stopped first.
OBSERVERS = ("pushgateway", "lag-exporter", "prometheus")
MAIN_CLASSES = {
    "kafka": "kafka.Kafka",
    "namenode": "org.apache.hadoop.hdfs.server.namenode.NameNode",
    "datanode": "org.apache.hadoop.hdfs.server.datanode.DataNode",
    "spark-master": "org.apache.spark.deploy.master.Master",
    "spark-worker": "org.apache.spark.deploy.worker.Worker",
}
TOOL_HEAP = "-Xmx512m"


@dataclass(frozen=True)
class Service:
    """One node of a topology: its kind and, for kinds with several nodes, its number."""

    name: str
    kind: str
    index: int = 1


def services(settings: StackSettings) -> list[Service]:
    """The topology's nodes in start order (stopped in reverse)."""

    def nodes(kind: str, count: int) -> list[Service]:
        if count == 1:
            return [Service(kind, kind)]
        return [Service(f"{kind}-{i}", kind, i) for i in range(1, count + 1)]

    found = nodes("kafka", settings.brokers) + nodes("namenode", 1)
    found += nodes("datanode", settings.datanodes)
    if settings.spark_workers:
        found += [Service("spark-master", "spark-master")]
        found += [
            Service(f"spark-worker-{i}", "spark-worker", i)
            for i in range(1, settings.spark_workers + 1)
        ]
    return found + [Service(kind, kind) for kind in OBSERVERS]


def by_name(settings: StackSettings, names: list[str]) -> list[Service]:
    """The named nodes (all when none are named), in start order."""
    every = services(settings)
    unknown = sorted(set(names) - {service.name for service in every})
    if unknown:
        choices = ", ".join(service.name for service in every)
        raise StackError(f"unknown service {', '.join(unknown)} (choose from {choices})")
    return [service for service in every if not names or service.name in names]


def client_port(settings: StackSettings, service: Service) -> int:
    """The port a node serves its clients on (shown by `status`)."""
    return {
        "kafka": lambda: settings.broker_port(service.index),
        "namenode": lambda: settings.hdfs_port,
        "datanode": lambda: settings.datanode_ports(service.index)["datanode_port"],
        "spark-master": lambda: settings.spark_master_port,
        "spark-worker": lambda: settings.spark_worker_port + service.index - 1,
        "pushgateway": lambda: settings.pushgateway_port,
        "lag-exporter": lambda: settings.lag_metrics_port,
        "prometheus": lambda: settings.prometheus_port,
    }[service.kind]()


# ---------------------------------------------------------------- configuration


def render(template: Path, target: Path, values: Mapping[str, object]) -> None:
    """Write a ${name} template from stack/conf with the given values."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(string.Template(template.read_text()).substitute(values))


def kafka_config(settings: StackSettings, service: Service) -> Path:
    """Render the broker's server.properties and return its path."""
    target = settings.conf_dir / service.name / "server.properties"
    values = {
        "node_id": service.index,
        "voters": settings.controller_voters,
        "kafka_port": settings.broker_port(service.index),
        "controller_port": settings.controller_port(service.index),
        "data_dir": settings.data_dir / service.name,
        "replication": settings.brokers,
        "min_insync_replicas": settings.min_insync_replicas,
    }
    render(CONF_SRC / "kafka" / "server.properties", target, values)
    return target


def hadoop_config(settings: StackSettings, service: Service) -> Path:
    """Render core-site.xml and hdfs-site.xml of one HDFS node and return their folder."""
    target = settings.conf_dir / service.name
    datanode = service.name if service.kind == "datanode" else "datanode"
    values = {
        "hdfs_port": settings.hdfs_port,
        "webhdfs_port": settings.webhdfs_port,
        **settings.datanode_ports(service.index),
        "namenode_dir": settings.data_dir / "namenode",
        "datanode_dir": settings.data_dir / datanode,
        "tmp_dir": settings.data_dir / f"tmp-{service.name}",
        "dfs_replication": settings.dfs_replication,
        # Seconds, not minutes, on the cluster: the DataNode case waits for the NameNode.
        "recheck_ms": 10_000 if settings.datanodes > 1 else 300_000,
    }
    for name in ("core-site.xml", "hdfs-site.xml"):
        render(CONF_SRC / "hadoop" / name, target / name, values)
    # The hadoop-hdfs jar on Maven Central lacks the web apps that a Hadoop distribution
    # ships in share/hadoop/hdfs/webapps. The HTTP servers only need their folders on the
    # classpath (WebHDFS and JMX are servlets registered in code), so empty ones stand in.
    for app in ("hdfs", "datanode", "static"):
        (target / "webapps" / app).mkdir(parents=True, exist_ok=True)
    return target


# ---------------------------------------------------------------- command lines


def java() -> str:
    """The java launcher: $JAVA_HOME/bin/java, else the one on PATH."""
    if os.environ.get("JAVA_HOME"):
        return str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise StackError("java is not on PATH; install JDK 17 (apt-get install -y openjdk-17-jdk)")
    return found


def kafka_java(settings: StackSettings, heap: str, log4j2_file: str) -> list[str]:
    """A java command line with the Kafka jars on the classpath, without the main class."""
    return [
        java(),
        heap,
        f"-Dlog4j2.configurationFile={CONF_SRC / 'kafka' / log4j2_file}",
        "-cp",
        f"{settings.jars_dir / 'kafka'}/*",
    ]


def hadoop_java(settings: StackSettings, service: Service, heap: str) -> list[str]:
    """Render the node's Hadoop conf; a java command line with it and the jars, sans class."""
    conf = hadoop_config(settings, service)
    return [
        java(),
        heap,
        # Hadoop runs without an installation: these stand in for what its scripts set.
        f"-Dhadoop.home.dir={settings.stack_dir}",
        f"-Dhadoop.log.dir={settings.logs_dir}",
        f"-Dlog4j.configuration=file:{CONF_SRC / 'hadoop' / 'log4j.properties'}",
        "-Djava.net.preferIPv4Stack=true",
        "-cp",
        f"{conf}:{settings.jars_dir / 'hadoop'}/*",
    ]


def spark_daemon(settings: StackSettings, service: Service) -> tuple[list[str], dict[str, str]]:
    """spark-class of the pyspark install running a standalone master or worker."""
    command = [str(VENV_BIN / "spark-class"), MAIN_CLASSES[service.kind]]
    if service.kind == "spark-master":
        command += ["--host", "127.0.0.1", "--port", str(settings.spark_master_port)]
        command += ["--webui-port", str(settings.spark_ui_port)]
    else:
        offset = service.index - 1
        command += [settings.spark_master_url, "--host", "127.0.0.1"]
        command += ["--port", str(settings.spark_worker_port + offset)]
        command += ["--webui-port", str(settings.spark_worker_ui_port + offset)]
        command += ["--cores", str(settings.worker_cores), "--memory", settings.worker_memory]
        command += ["--work-dir", str(settings.data_dir / service.name)]
    env = {
        **os.environ,
        # spark-class adds these to the Master's and Worker's JVM (not to executors).
        "SPARK_DAEMON_JAVA_OPTS": " ".join(tags(settings, service.name)),
        "SPARK_DAEMON_MEMORY": settings.spark_daemon_heap,
        # No REST submission server: it would take port 6066 whatever the topology's ports.
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "SPARK_CONF_DIR": str(settings.spark_conf_dir),
        "SPARK_LOG_DIR": str(settings.logs_dir),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }
    return command, env


def command(settings: StackSettings, service: Service) -> tuple[list[str], dict[str, str] | None]:
    """The node's full command line (tagged as ours) and environment (None: inherit)."""
    if service.kind.startswith("spark-"):
        return spark_daemon(settings, service)
    if service.kind == "prometheus":
        return prometheus.prometheus_command(settings, service.name), None
    if service.kind == "pushgateway":
        return prometheus.pushgateway_command(settings, service.name), None
    if service.kind == "lag-exporter":
        return prometheus.lag_exporter_command(settings, service.name)
    if service.kind == "kafka":
        heap = f"-Xmx{settings.kafka_heap}"
        line = kafka_java(settings, heap, "log4j2.properties")
        arguments = [str(kafka_config(settings, service))]
    else:
        heap = f"-Xmx{getattr(settings, service.kind + '_heap')}"
        line = hadoop_java(settings, service, heap)
        arguments = []
    # Tags inserted before -cp so `ps` and running_pid() can tell our processes apart.
    line = line[:2] + tags(settings, service.name) + line[2:]
    return [*line, MAIN_CLASSES[service.kind], *arguments], None


# ---------------------------------------------------------------- storage


def kafka_cluster_id(settings: StackSettings) -> str:
    """The topology's Kafka cluster id: 16 random bytes, URL-safe base64, kept on disk."""
    path = settings.data_dir / "kafka-cluster-id"
    if path.is_file():
        return path.read_text().strip()
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka avoids ids starting with '-' since command-line parsers take them for options.
        if not cluster_id.startswith("-"):
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cluster_id + "\n")
    return cluster_id


def prepare(settings: StackSettings, service: Service) -> None:
    """Write the node's configuration and format its storage on first start."""
    for directory in (settings.logs_dir, settings.pids_dir, settings.data_dir):
        directory.mkdir(parents=True, exist_ok=True)
    if service.kind == "kafka":
        config = kafka_config(settings, service)
        if (settings.data_dir / service.name / "meta.properties").is_file():
            return
        line = kafka_java(settings, TOOL_HEAP, "tools-log4j2.properties")
        line += ["kafka.tools.StorageTool", "format", "-c", str(config)]
        line += ["-t", kafka_cluster_id(settings)]
        print(f"{service.name}: formatting storage", flush=True)
        run_logged(settings, service.name, "formatting storage", line)
    elif service.kind == "namenode":
        if (settings.data_dir / "namenode" / "current" / "VERSION").is_file():
            return
        line = hadoop_java(settings, service, TOOL_HEAP)
        line += [MAIN_CLASSES["namenode"], "-format", "-nonInteractive"]
        line += ["-clusterid", HDFS_CLUSTER_ID]
        print("namenode: formatting the file system", flush=True)
        run_logged(settings, service.name, "formatting the file system", line)
