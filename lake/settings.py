"""Settings of the Spark side (landing job, marts), built once from `QUESTLOG_*` variables."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.settings import REPO_ROOT, RuntimeSettings, env_overrides

__all__ = ["REPO_ROOT", "LakeSettings", "env_overrides"]


@dataclass(frozen=True, kw_only=True)
class LakeSettings(RuntimeSettings):
    """Where events come from and where the lake lives (`RuntimeSettings`), and how to land."""

    # Large enough that a catch-up pays the per-batch costs (table snapshot, dedupe check,
    # commit) seldom; a batch is kept on executors (memory, then disk) while it is written.
    max_offsets_per_trigger: int = 1_000_000
    # Spark tasks a micro-batch's Kafka offsets are split into, at least: with 3 Kafka
    # partitions on 2 cores, 3 tasks leave a core idle for a third of the parse.
    kafka_min_partitions: int = 6
    trigger_interval: str = "10 seconds"
    # In service mode, the marts are computed again when `events` changed, at most this often
    # (0: never; `jobs/run_marts.py` then runs them). The player endpoint does not wait for
    # them (it folds in what landed since); a run takes its share of the cores from landing.
    marts_refresh_s: float = 60.0
    # host:port where the landing service serves its metrics (streaming/metrics.py); empty:
    # none. A port taken leaves the service landing, without metrics, and says so.
    landing_metrics_bind: str = "127.0.0.1:9466"
    # host:port where the lag exporter serves the landing's lag (streaming/lag_exporter.py).
    lag_metrics_bind: str = "127.0.0.1:9467"
    fail_on_data_loss: bool = True
    # The landing job's lease on its `events` table (`streaming.lease`): a second job is
    # refused while it is renewed, and a job that died gives it up this long after.
    landing_lease_s: float = 20.0
    # How long after a day ends its events may still arrive (a phone's offline queue, say)
    # before the daily marts call the day complete.
    late_arrival_allowance_s: int = 86_400
