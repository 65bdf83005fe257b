"""The `events` topic and Kafka's own command-line tools."""

from __future__ import annotations

import subprocess
import sys

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from stack.probes import broker_ready
from stack.processes import StackError
from stack.services import TOOL_HEAP, kafka_java
from stack.settings import StackSettings


def run_kafka_tool(
    main_class: str, *args: str, settings: StackSettings | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a Kafka CLI class (e.g. org.apache.kafka.tools.TopicCommand), capturing its output."""
    settings = settings or StackSettings.from_env()
    command = kafka_java(settings, TOOL_HEAP, "tools-log4j2.properties")
    return subprocess.run([*command, main_class, *args], capture_output=True, text=True)


def _require_kafka(settings: StackSettings) -> None:
    # An admin client would otherwise retry for a minute before giving up.
    if not any(broker_ready(settings, node_id) for node_id in settings.broker_ids):
        raise StackError(f"kafka does not answer on {settings.kafka_bootstrap}; run: up")


def create_topic(settings: StackSettings, name: str, partitions: int) -> None:
    """Create a topic with a replica on every broker and the topology's min.insync.replicas."""
    _require_kafka(settings)
    topic = NewTopic(
        name,
        partitions,
        settings.brokers,
        topic_configs={"min.insync.replicas": str(settings.min_insync_replicas)},
    )
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="questlog-stack")
    try:
        admin.create_topics([topic])
    except TopicAlreadyExistsError:
        pass
    except KafkaError as error:
        raise StackError(f"creating topic {name} failed: {error!r}") from None
    finally:
        admin.close()
    print(
        f"topic {name}: exists ({partitions} partitions requested, replication "
        f"{settings.brokers}, min.insync.replicas {settings.min_insync_replicas})"
    )


def describe_topic(settings: StackSettings, name: str) -> None:
    """Print a topic's partitions, leaders, replicas and configuration."""
    _require_kafka(settings)
    result = run_kafka_tool(
        "org.apache.kafka.tools.TopicCommand",
        "--describe",
        "--topic", name,
        "--bootstrap-server", settings.kafka_bootstrap,
        settings=settings,
    )  # fmt: skip
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise StackError(f"describing topic {name} failed (exit {result.returncode})")


def controller_leader(settings: StackSettings) -> int | None:
    """The node id of the active KRaft controller (the metadata quorum's leader), or None."""
    result = run_kafka_tool(
        "org.apache.kafka.tools.MetadataQuorumCommand",
        "--bootstrap-server", settings.kafka_bootstrap,
        "describe", "--status",
        settings=settings,
    )  # fmt: skip
    for line in result.stdout.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "LeaderId" and value.strip().isdigit():
            return int(value.strip())
    return None
