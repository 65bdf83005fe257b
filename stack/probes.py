"""Whether a node answers requests, asked of the service that relies on it.

A broker answers when it lists itself among the live brokers of the cluster (kafka-python's
admin client); a DataNode when the NameNode counts it live and has left safe mode; a Spark
worker when the master lists it as ALIVE. A process that runs is not enough.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.request

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from stack.services import Service
from stack.settings import StackSettings

# A DataNode heartbeats every 3 s; silence longer than this means it is gone.
DATANODE_SILENCE_S = 10
# kafka-python logs each refused connection as an error; a probe expects some.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


def http_json(url: str, timeout: float = 2.0) -> dict | None:
    """The JSON body of a 200 answer, or None for anything else (refused, 4xx, 5xx)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read()) if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None


def kafka_cluster(port: int, timeout_ms: int = 3000) -> dict | None:
    """The cluster as the broker on `port` describes it (brokers, controller), or None."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=f"localhost:{port}",
            client_id="questlog-stack",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )
    except (KafkaError, OSError, ValueError):
        return None
    try:
        return admin.describe_cluster()
    except (KafkaError, OSError, ValueError):
        return None
    finally:
        admin.close()


def broker_ready(settings: StackSettings, node_id: int) -> bool:
    cluster = kafka_cluster(settings.broker_port(node_id))
    if not cluster or cluster.get("controller_id", -1) < 0:
        return False
    # A broker the controller has fenced (not caught up with the metadata log) takes no load.
    live = {b["broker_id"] for b in cluster.get("brokers", []) if not b.get("is_fenced")}
    return node_id in live


def namenode_info(settings: StackSettings) -> dict | None:
    """The NameNode's NameNodeInfo JMX bean, or None when it does not answer."""
    body = http_json(f"{settings.webhdfs_url}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")
    beans = (body or {}).get("beans", [])
    return beans[0] if beans else None


def live_datanodes(settings: StackSettings) -> set[int]:
    """Data-transfer ports of the DataNodes the NameNode heard from in the last seconds."""
    info = namenode_info(settings)
    if not info:
        return set()
    nodes = json.loads(info.get("LiveNodes") or "{}")
    return {
        int(node["xferaddr"].rsplit(":", 1)[1])
        for node in nodes.values()
        if node.get("lastContact", DATANODE_SILENCE_S) < DATANODE_SILENCE_S
    }


def hdfs_serves(settings: StackSettings) -> bool:
    """Whether HDFS takes reads and writes: out of safe mode, a live DataNode, WebHDFS up."""
    info = namenode_info(settings)
    if not info or info.get("Safemode") or not live_datanodes(settings):
        return False
    return http_json(f"{settings.webhdfs_url}/webhdfs/v1/?op=LISTSTATUS") is not None


def datanode_ready(settings: StackSettings, index: int) -> bool:
    """The DataNode's own server answers (the NameNode may still count a killed one live for
    a few seconds), the NameNode counts it live, and HDFS takes writes."""
    ports = settings.datanode_ports(index)
    own = f"http://localhost:{ports['datanode_http_port']}/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo"
    if http_json(own) is None:
        return False
    return ports["datanode_port"] in live_datanodes(settings) and hdfs_serves(settings)


def spark_workers(settings: StackSettings) -> dict[int, str] | None:
    """The master's workers (port -> state), or None when the master does not answer."""
    body = http_json(f"http://127.0.0.1:{settings.spark_ui_port}/json/")
    if not body or body.get("status") != "ALIVE":
        return None
    return {int(worker["port"]): worker["state"] for worker in body.get("workers", [])}


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


def ready(settings: StackSettings, service: Service) -> bool:
    """Whether the node answers requests (not merely whether its process runs)."""
    if service.kind == "prometheus":
        return answers(f"{settings.prometheus_url}/-/ready")
    if service.kind == "pushgateway":
        return answers(f"http://127.0.0.1:{settings.pushgateway_port}/-/ready")
    if service.kind == "lag-exporter":
        # It answers before Kafka or HDFS do; a scrape then says so (questlog_lag_exporter_up).
        return answers(f"http://127.0.0.1:{settings.lag_metrics_port}/metrics", timeout=15)
    if service.kind == "kafka":
        return broker_ready(settings, service.index)
    if service.kind == "namenode":
        return namenode_info(settings) is not None
    if service.kind == "datanode":
        return datanode_ready(settings, service.index)
    workers = spark_workers(settings)
    if service.kind == "spark-master":
        return workers is not None
    port = settings.spark_worker_port + service.index - 1
    return (workers or {}).get(port) == "ALIVE"
