"""What every benchmark stage shares: the run's mode, workspace, progress and figures."""

from __future__ import annotations

from dataclasses import dataclass

from tqdm import tqdm

from bench.stats import ratio, summary
from bench.workspace import Workspace

# The load would otherwise meet the per-key and per-player token buckets (429s), which
# protect the service in production and are not what this measures.
NO_RATE_LIMITS = {
    "QUESTLOG_KEY_RATE_PER_S": "1e9",
    "QUESTLOG_KEY_BURST": "1000000000",
    "QUESTLOG_ADDRESS_RATE_PER_S": "1e9",
    "QUESTLOG_ADDRESS_BURST": "1000000000",
    "QUESTLOG_PLAYER_RATE_PER_S": "1e9",
    "QUESTLOG_PLAYER_BURST": "1000000000",
    "QUESTLOG_PLAYER_READ_RATE_PER_S": "1e9",
    "QUESTLOG_PLAYER_READ_BURST": "1000000000",
}


@dataclass(frozen=True)
class Mode:
    """How much a run measures: repeats, durations, sizes."""

    repeats: int
    spark_repeats: int
    perf_tool_events: int
    kafka_python_events: int
    wrk_seconds: int
    landing_events: int
    landing_large_events: int
    mart_events: tuple[int, ...]
    e2e_rounds: int
    e2e_round_seconds: int
    profile_seconds: int
    # A warm landing batch of this many events into lakes of these many events (60 days).
    warm_batch_events: int = 200_000
    history_events: tuple[int, ...] = (1_000_000, 50_000_000)


MODES = {
    "full": Mode(
        3, 3, 300_000, 100_000, 15, 1_000_000, 10_000_000, (1_000_000, 10_000_000), 3, 30, 15
    ),
    "quick": Mode(
        2, 1, 100_000, 30_000, 5, 100_000, 0, (200_000,), 2, 15, 0, 20_000, (100_000, 1_000_000)
    ),
}


def figure(stage, name, unit, runs, ceiling=None, ceiling_runs=None, higher_is_better=True):
    """One row of the table: a figure over repeated runs and, when it has one, its ceiling."""
    row = {"stage": stage, "figure": name, "unit": unit, "summary": summary(runs)}
    if ceiling is not None:
        row["ceiling"] = {"name": ceiling, "summary": summary(ceiling_runs)}
        row["ratio"] = ratio(
            row["summary"]["median"], row["ceiling"]["summary"]["median"], higher_is_better
        )
    return row


def label(events: int) -> str:
    return f"{events // 1_000_000}M" if events >= 1_000_000 else f"{events // 1000}k"


class Run:
    """One benchmark run: its mode, workspace, progress bar and what it found."""

    def __init__(self, mode: Mode, workspace: Workspace, progress: tqdm):
        self.mode = mode
        self.ws = workspace
        self.progress = progress
        self.figures: list[dict] = []
        self.details: dict = {}

    def step(self, text: str) -> None:
        self.progress.set_description(text)

    def done(self, text: str) -> None:
        self.progress.update(1)
        tqdm.write(f"  {text}")
