"""What one benchmark run owns on the stack: its topics, its HDFS and local folders."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from hdfs import InsecureClient
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from lake.settings import LakeSettings


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Workspace:
    """Topics `bench-<run>-*`, `hdfs:///questlog-bench/<run>` and a local folder; all removed."""

    def __init__(self, run_id: str, settings: LakeSettings):
        self.run_id = run_id
        self.settings = settings
        self.admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap, bootstrap_timeout_ms=10_000
        )
        self.webhdfs = InsecureClient(settings.webhdfs_url, user=os.environ.get("USER", "root"))
        self.namenode = urlparse(settings.lake_root).netloc
        self.hdfs_folder = f"/questlog-bench/{run_id}"
        self.local = Path(tempfile.gettempdir()) / "questlog-bench" / run_id
        self.local.mkdir(parents=True, exist_ok=True)
        self.topics: list[str] = []

    def topic(self, name: str, partitions: int = 3) -> str:
        """Create a topic of this run's own."""
        topic = f"bench-{self.run_id}-{name}"
        self.admin.create_topics([NewTopic(topic, partitions, 1)])
        self.topics.append(topic)
        return topic

    def hdfs(self, name: str) -> str:
        """A lake root (or output folder) of this run's own on HDFS."""
        return f"hdfs://{self.namenode}{self.hdfs_folder}/{name}"

    def clean(self) -> None:
        """Delete the run's topics, HDFS folder and local folder."""
        if self.topics:
            self.admin.delete_topics(self.topics)
        self.admin.close()
        self.webhdfs.delete(self.hdfs_folder, recursive=True)
        shutil.rmtree(self.local, ignore_errors=True)
