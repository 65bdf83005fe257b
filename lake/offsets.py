"""The Kafka offsets a streaming query's checkpoint has committed: the one parser of its logs.

Structured Streaming writes `<checkpoint>/offsets/<n>` when it plans batch n and
`<checkpoint>/commits/<n>` once the batch's output is committed; the Kafka source's offsets
are the last JSON line of an offsets entry (and of `sources/0/0`, where the query started).
Spark-free: the landing audit reads the files through Spark's file system, the fault cases
and the benchmarks through WebHDFS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlparse

Offsets = dict[str, dict[str, int]]


def parse_offsets(text: str) -> Offsets:
    """The Kafka source's offsets (topic -> partition -> offset) in an offsets log entry."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{") and not line.startswith('{"batchWatermarkMs'):
            return {
                t: {p: int(o) for p, o in parts.items()} for t, parts in json.loads(line).items()
            }
    raise ValueError("no offsets in the checkpoint entry")


def committed_offsets_with(
    list_names: Callable[[str], list[str]], read_text: Callable[[str], str], checkpoint: str
) -> Offsets | None:
    """End offsets (exclusive) of the last committed batch, or None before the first, read
    with the given file system functions."""
    commits = [int(n) for n in list_names(f"{checkpoint}/commits") if n.isdigit()]
    if not commits:
        return None
    return parse_offsets(read_text(f"{checkpoint}/offsets/{max(commits)}"))


def webhdfs_committed_offsets(client, checkpoint: str) -> Offsets | None:
    """`committed_offsets_with` through a WebHDFS client (`hdfs.InsecureClient`)."""

    def list_names(path: str) -> list[str]:
        return client.list(path) if client.status(path, strict=False) is not None else []

    def read_text(path: str) -> str:
        with client.read(path) as reader:
            return reader.read().decode()

    return committed_offsets_with(list_names, read_text, urlparse(checkpoint).path)
