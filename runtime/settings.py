"""The settings every stage shares, and the one reader of `QUESTLOG_*` variables.

Each service's settings are one frozen dataclass that extends `RuntimeSettings` (ingest,
landing and jobs) or `SharedSettings` (the local stack, which derives its addresses from its
ports). A field `name` is set by the variable `QUESTLOG_<NAME>`; its default is written once,
on the field.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Self

from runtime.layout import LakePaths

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
PREFIX = "QUESTLOG_"
# The local stack's default ports; the clients' default addresses are built from them.
KAFKA_PORT = 9092
HDFS_PORT = 9000
WEBHDFS_PORT = 9870
PUSHGATEWAY_PORT = 9091
# The lake's folder on the file system (HDFS) the lake root points at.
LAKE_FOLDER = "questlog"


def _parse(raw: str, default):
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(default, Path):
        return Path(raw).resolve()
    return type(default)(raw)


def env_overrides(
    cls,
    environ: Mapping[str, str],
    prefix: str = PREFIX,
    only: Iterable[str] | None = None,
    defaults=None,
) -> dict:
    """Field values of the settings class `cls` given as `<prefix><FIELD>` variables.

    `only` limits the fields a variable may set; `defaults` (an instance) gives the types.
    """
    defaults = defaults if defaults is not None else cls()
    allowed = None if only is None else set(only)
    values = {}
    for field in fields(cls):
        name = f"{prefix}{field.name.upper()}"
        if name in environ and (allowed is None or field.name in allowed):
            values[field.name] = _parse(environ[name], getattr(defaults, field.name))
    return values


def variable_names(cls, prefix: str = PREFIX) -> set[str]:
    """The `QUESTLOG_*` variables that set fields of the settings class `cls`."""
    return {f"{prefix}{field.name.upper()}" for field in fields(cls)}


@dataclass(frozen=True, kw_only=True)
class SharedSettings:
    """What every part of questlog agrees on: the topic and the local stack's folder."""

    topic: str = "events"
    stack_dir: Path = REPO_ROOT / ".stack"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Self:
        """Defaults, overridden by whichever `QUESTLOG_<FIELD>` variables are set."""
        return cls(**env_overrides(cls, environ))

    @property
    def spark_conf_dir(self) -> Path:
        """SPARK_CONF_DIR of the stack's Spark jobs (written by `python -m lake.spark_conf`)."""
        return self.stack_dir / "conf" / "spark"


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings(SharedSettings, LakePaths):
    """Where a client of the stack finds Kafka and the lake (its paths: `LakePaths`)."""

    kafka_bootstrap: str = f"localhost:{KAFKA_PORT}"
    lake_root: str = f"hdfs://localhost:{HDFS_PORT}/{LAKE_FOLDER}"
    webhdfs_url: str = f"http://localhost:{WEBHDFS_PORT}"
    # Where batch jobs (marts, audit) push their metrics for Prometheus; empty: nowhere. An
    # unreachable gateway costs the job a warning, never its result.
    pushgateway_url: str = f"http://localhost:{PUSHGATEWAY_PORT}"
