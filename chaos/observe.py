"""What the fault cases observe without Spark: processes, checkpoint logs on HDFS."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from hdfs import InsecureClient

from lake.offsets import webhdfs_committed_offsets
from runtime.layout import LakeLayout


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children(parent: int) -> list[int]:
    """Pids of the live child processes of `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == parent and state != "Z":
                found.append(int(entry.name))
    return found


def webhdfs_client(webhdfs_url: str) -> InsecureClient:
    """A WebHDFS client as this machine's user."""
    return InsecureClient(webhdfs_url, user=os.environ.get("USER", "root"))


def committed_offset(webhdfs_url: str, lake_root: str, topic: str, partition: int) -> int:
    """The offset of `partition` the landing checkpoint has committed (its newest offsets log)."""
    client = webhdfs_client(webhdfs_url)
    root = urlparse(LakeLayout(lake_root).checkpoint_root).path
    lowest = None
    for query in _list(client, root):
        offsets = webhdfs_committed_offsets(client, f"{root}/{query}")
        if offsets is None:
            continue
        value = offsets[topic][str(partition)]
        lowest = value if lowest is None else min(lowest, value)
    return lowest or 0


def open_batches(webhdfs_url: str, checkpoint_root: str) -> list[str]:
    """Micro-batches planned and not yet committed under a checkpoint root, from Structured
    Streaming's own log layout: `<query>/offsets/<n>` is written when batch n is planned,
    `<query>/commits/<n>` once its output is committed."""
    client = webhdfs_client(webhdfs_url)
    root = urlparse(checkpoint_root).path
    found = []
    for query in _list(client, root):
        offsets = _list(client, f"{root}/{query}/offsets")
        commits = set(_list(client, f"{root}/{query}/commits"))
        found += [f"{query}/{n}" for n in offsets if n.isdigit() and n not in commits]
    return found


def _list(client: InsecureClient, path: str) -> list[str]:
    """The names in an HDFS folder; none when it does not exist (yet)."""
    if client.status(path, strict=False) is None:
        return []
    return client.list(path)
