"""The registry of marts: every mart's name, what it holds and which transform computes it.

Spark-free, so the ingest service (the player endpoint), the demo and the tests read it as
well as the jobs that compute the marts (`jobs.entry`, `jobs/run_marts.py`). A mart is
stored at `LakeLayout.mart_path(name)` and registered as the SQL table `name`.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.shop import SPENT_COLUMN


@dataclass(frozen=True, kw_only=True)
class MartSpec:
    """A mart: its transform (`module:function`), its days, its rows, who reads it."""

    name: str
    transform: str
    # One row set per day: a run may recompute a range of days.
    daily: bool
    description: str
    order_by: tuple[str, ...]
    # The transform takes the first day not over yet (`as_of`) after the events.
    as_of_today: bool = False
    # Read by the ingest service for GET /v1/players/<id>.
    player_state: bool = False

    @property
    def module(self) -> str:
        return self.transform.split(":")[0]


# The landed columns the mart transforms read (their unit tests build frames of exactly
# these); jobs/run_marts.py derives the marts' inputs from only these of the events.
MART_INPUT_COLUMNS = (
    "event_id",
    "event_type",
    "player_id",
    "session_id",
    "event_ts",
    "event_date",
    "properties",
)

MARTS: dict[str, MartSpec] = {
    spec.name: spec
    for spec in (
        MartSpec(
            name="player_purchases",
            transform="jobs.marts:player_purchases",
            daily=False,
            description="per player: purchases in total and per item, spend per currency, first "
            "and last purchase, distinct items, active days",
            order_by=(f"{SPENT_COLUMN} DESC", "player_id"),
            player_state=True,
        ),
        MartSpec(
            name="daily_item_sales",
            transform="jobs.marts:daily_item_sales",
            daily=True,
            description="per day and item: purchases, units, unique buyers, revenue",
            order_by=("event_date DESC", "revenue DESC"),
        ),
        MartSpec(
            name="daily_active_players",
            transform="jobs.marts:daily_active_players",
            daily=True,
            description="per day: active players, new players, sessions",
            order_by=("event_date DESC",),
        ),
        MartSpec(
            name="player_inventory",
            transform="jobs.marts:player_inventory",
            daily=False,
            description="per player: the items owned now and since when, and guild membership",
            order_by=("player_id",),
            player_state=True,
        ),
        MartSpec(
            name="daily_kpis",
            transform="jobs.kpis:daily_kpis",
            daily=True,
            description="per UTC day: DAU, new and paying players, payer conversion, revenue, "
            "ARPDAU, ARPPU, sessions per DAU, average session length",
            order_by=("event_date DESC",),
        ),
        MartSpec(
            name="retention",
            transform="jobs.kpis:retention",
            daily=False,
            description="per install cohort: its size and the share active on day 1, 7, 14 and "
            "30 (empty until that day is over)",
            order_by=("cohort_date DESC",),
            as_of_today=True,
        ),
        MartSpec(
            name="cohort_ltv",
            transform="jobs.kpis:cohort_ltv",
            daily=False,
            description="per install cohort and day since install: cumulative revenue per "
            "installed player",
            order_by=("cohort_date DESC", "days_since_install"),
            as_of_today=True,
        ),
        MartSpec(
            name="spender_segments",
            transform="jobs.kpis:spender_segments",
            daily=False,
            description="per player: lifetime spend, spend rank, segment (whale, dolphin, "
            "minnow, non-payer) and the segment's share of revenue",
            order_by=("spend_rank", "player_id"),
            player_state=True,
        ),
    )
}


def marts_of(module: str) -> list[str]:
    """The marts whose transforms live in `module` (`jobs.marts`: purchases; `jobs.kpis`)."""
    return [name for name, spec in MARTS.items() if spec.module == module]


def player_state_marts() -> list[str]:
    """The marts the player endpoint reads."""
    return [name for name, spec in MARTS.items() if spec.player_state]
