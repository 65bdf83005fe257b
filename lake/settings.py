"""Settings of the Spark side (landing job, marts), built once from `QUESTLOG_*` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def env_overrides(cls, environ) -> dict:
    """Field values of the settings class `cls` given as `QUESTLOG_<FIELD>` variables."""
    defaults = cls()
    values = {}
    for field in fields(cls):
        name = f"QUESTLOG_{field.name.upper()}"
        if name not in environ:
            continue
        raw, default = environ[name], getattr(defaults, field.name)
        if isinstance(default, bool):
            values[field.name] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, tuple):
            values[field.name] = tuple(part.strip() for part in raw.split(",") if part.strip())
        else:
            values[field.name] = type(default)(raw)
    return values


@dataclass(frozen=True, kw_only=True)
class LakeSettings:
    """Where events come from and where the lake lives."""

    kafka_bootstrap: str = "localhost:9092"
    topic: str = "events"
    lake_root: str = "hdfs://localhost:9000/questlog"
    webhdfs_url: str = "http://localhost:9870"
    stack_dir: Path = REPO_ROOT / ".stack"
    max_offsets_per_trigger: int = 200_000
    trigger_interval: str = "10 seconds"
    dedupe_horizon_days: int = 30
    fail_on_data_loss: bool = True

    @classmethod
    def from_env(cls, environ=os.environ) -> LakeSettings:
        """Defaults, overridden by whichever `QUESTLOG_<FIELD>` variables are set."""
        return cls(**env_overrides(cls, environ))

    @property
    def events_path(self) -> str:
        return f"{self.lake_root}/lake/events"

    @property
    def quarantine_path(self) -> str:
        return f"{self.lake_root}/lake/quarantine"

    @property
    def erasures_path(self) -> str:
        """Kafka offsets whose rows were erased on request (no personal data)."""
        return f"{self.lake_root}/lake/erasures"

    @property
    def checkpoint_root(self) -> str:
        return f"{self.lake_root}/checkpoints"

    def mart_path(self, mart: str) -> str:
        return f"{self.lake_root}/marts/{mart}"

    @property
    def spark_conf_dir(self) -> Path:
        return self.stack_dir / "conf" / "spark"
