"""Reading marts without Spark: WebHDFS (the `hdfs` package) or the local disk, and pyarrow.

For the ingest service's player endpoint and for notebooks: they read the newest complete
version of a mart (one with `_SUCCESS`), which the mart jobs write last.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hdfs import InsecureClient

VERSION_PREFIX = "version="


class MartFiles:
    """Lists and reads the files of a lake on HDFS (WebHDFS) or on the local disk."""

    def __init__(self, lake_root: str, webhdfs_url: str):
        parsed = urlparse(lake_root)
        self.root = parsed.path.rstrip("/")
        self.client = InsecureClient(webhdfs_url) if parsed.scheme == "hdfs" else None

    def list(self, path: str) -> list[str]:
        if self.client:
            return self.client.list(path) if self.client.status(path, strict=False) else []
        return sorted(p.name for p in Path(path).iterdir()) if Path(path).is_dir() else []

    def read(self, path: str) -> bytes:
        if self.client:
            with self.client.read(path) as reader:
                return reader.read()
        with open(path, "rb") as file:
            return file.read()

    def latest_version(self, mart: str) -> str | None:
        folder = f"{self.root}/marts/{mart}"
        versions = [n for n in self.list(folder) if n.startswith(VERSION_PREFIX)]
        for name in sorted(
            versions, key=lambda n: int(n.removeprefix(VERSION_PREFIX)), reverse=True
        ):
            if "_SUCCESS" in self.list(f"{folder}/{name}"):
                return f"{folder}/{name}"
        return None

    def version_table(self, version_path: str) -> pa.Table:
        """Every Parquet file of one version of a mart, as one Arrow table."""
        parts = [n for n in self.list(version_path) if n.endswith(".parquet")]
        return pa.concat_tables(
            [pq.read_table(io.BytesIO(self.read(f"{version_path}/{n}"))) for n in parts]
        )

    def rows(self, version_path: str) -> list[dict]:
        """One version of a mart as a list of rows."""
        return self.version_table(version_path).to_pylist()

    def table(self, mart: str) -> pa.Table:
        """The newest complete version of a mart as one Arrow table."""
        version = self.latest_version(mart)
        if version is None:
            raise FileNotFoundError(f"no complete version of the mart {mart!r} in {self.root}")
        return self.version_table(version)


def read_mart_pandas(mart: str, lake_root: str, webhdfs_url: str) -> pd.DataFrame:
    """A mart as a pandas DataFrame, for notebooks."""
    return MartFiles(lake_root, webhdfs_url).table(mart).to_pandas()
