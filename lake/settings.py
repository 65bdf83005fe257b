"""Settings of the Spark side (landing job, marts), built once from `QUESTLOG_*` variables."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.settings import REPO_ROOT, RuntimeSettings, env_overrides

__all__ = ["REPO_ROOT", "LakeSettings", "env_overrides"]


@dataclass(frozen=True, kw_only=True)
class LakeSettings(RuntimeSettings):
    """Where events come from and where the lake lives (`RuntimeSettings`), and how to land."""

    max_offsets_per_trigger: int = 200_000
    trigger_interval: str = "10 seconds"
    dedupe_horizon_days: int = 30
    fail_on_data_loss: bool = True
