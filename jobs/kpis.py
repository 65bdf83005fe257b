"""The studio's KPIs as pure transforms from landed events: `DataFrame -> DataFrame`, no I/O.

Revenue is what players spend in the shop's currency (`events.shop.CURRENCY`):
price x quantity of their purchases in it. Purchases in any other currency are not revenue.
A player is active on a UTC day when they sent any event that day. A player's install day
(their cohort) is the first day they were active. The README holds the definitions and how
they differ from GameAnalytics', Unity Analytics' and PlayFab's.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from events.shop import CURRENCY
from jobs.inputs import MartInputs, inputs_of

RETENTION_DAYS = (1, 7, 14, 30)
# Payer tiers, best first: a segment's name and the top percent of payers (by spend rank) it
# reaches down to: whales are the top 1 %, dolphins the next 9 %, minnows the other payers.
SPENDER_TIERS = (("whale", 1), ("dolphin", 10), ("minnow", 100))
NON_PAYER = "non_payer"


def revenue_purchases(purchases: DataFrame, currency: str = CURRENCY) -> DataFrame:
    """Purchases that are revenue: paid in `currency`, with their amount."""
    return purchases.where(F.col("currency") == currency)


def _ratio(numerator: str, denominator: str) -> F.Column:
    """numerator / denominator, null when the denominator is zero."""
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


def daily_kpis(events: DataFrame | MartInputs, currency: str = CURRENCY) -> DataFrame:
    """Per UTC day: DAU, new and paying players, conversion, revenue, ARPDAU, ARPPU, sessions.

    `new_players` needs each player's first day, so pass every event up to the last day.
    """
    inputs = inputs_of(events)
    per_day = inputs.days.withColumnRenamed("active_players", "dau")
    new = inputs.players.groupBy(F.col("cohort_date").alias("event_date")).agg(
        F.count(F.lit(1)).alias("new_players")
    )
    paid = (
        revenue_purchases(inputs.purchases, currency)
        .groupBy("event_date")
        .agg(
            F.countDistinct(F.when(F.col("amount") > 0, F.col("player_id"))).alias("paying"),
            F.sum("amount").alias("revenue"),
        )
    )
    lengths = inputs.session_lengths.groupBy("event_date").agg(
        F.avg("length_s").alias("avg_session_length_s")
    )
    rows = (
        per_day.join(new, "event_date", "left")
        .join(paid, "event_date", "left")
        .join(lengths, "event_date", "left")
        .select(
            "event_date",
            F.col("dau").cast("long").alias("dau"),
            F.coalesce("new_players", F.lit(0)).cast("long").alias("new_players"),
            F.coalesce("paying", F.lit(0)).cast("long").alias("paying_players"),
            F.coalesce("revenue", F.lit(0.0)).alias("revenue"),
            F.col("sessions").cast("long").alias("sessions"),
            "avg_session_length_s",
        )
    )
    return rows.select(
        "event_date",
        "dau",
        "new_players",
        "paying_players",
        _ratio("paying_players", "dau").alias("payer_conversion"),
        "revenue",
        _ratio("revenue", "dau").alias("arpdau"),
        _ratio("revenue", "paying_players").alias("arppu"),
        "sessions",
        _ratio("sessions", "dau").alias("sessions_per_dau"),
        "avg_session_length_s",
    )


def _complete_cohorts(players: DataFrame, as_of: date) -> DataFrame:
    """Install cohorts whose install day has fully passed before `as_of`, with their size."""
    return (
        players.where(F.col("cohort_date") < F.lit(as_of))
        .groupBy("cohort_date")
        .agg(F.count(F.lit(1)).cast("long").alias("cohort_size"))
    )


def retention(events: DataFrame | MartInputs, as_of: date) -> DataFrame:
    """Per install cohort: its size and the share active exactly N days later (classic).

    `as_of` is the first day not yet over (today, UTC): a day-N cell is null until the
    cohort's day N is before it. Only cohorts whose install day is over are listed.
    """
    inputs = inputs_of(events)
    cohorts = _complete_cohorts(inputs.players, as_of)
    day = F.datediff("event_date", "cohort_date")
    # A player is active at most once on a day, so the cohort's players active on its day N
    # are the day's count; no cohort-day row means nobody.
    returned = inputs.cohort_days.groupBy("cohort_date").agg(
        *[
            F.sum(F.when(day == n, F.col("players")).otherwise(0)).alias(f"returned_{n}")
            for n in RETENTION_DAYS
        ]
    )
    rows = cohorts.join(returned, "cohort_date", "left")
    return rows.select(
        "cohort_date",
        "cohort_size",
        *[
            F.when(
                F.date_add("cohort_date", n) < F.lit(as_of),
                F.col(f"returned_{n}") / F.col("cohort_size"),
            ).alias(f"day_{n}")
            for n in RETENTION_DAYS
        ],
    )


def cohort_ltv(events: DataFrame | MartInputs, as_of: date, currency: str = CURRENCY) -> DataFrame:
    """Per install cohort and day since install (every day over before `as_of`): revenue of
    the cohort's players up to and including that day, and that per installed player."""
    inputs = inputs_of(events)
    cohorts = _complete_cohorts(inputs.players, as_of)
    last_day = F.date_sub(F.lit(as_of), 1)
    grid = cohorts.select(
        "cohort_date",
        "cohort_size",
        F.explode(F.sequence(F.lit(0), F.datediff(last_day, "cohort_date"))).alias(
            "days_since_install"
        ),
    )
    spent = (
        revenue_purchases(inputs.purchases, currency)
        .join(inputs.players.select("player_id", "cohort_date"), "player_id")
        .groupBy("cohort_date", F.datediff("event_date", "cohort_date").alias("days_since_install"))
        .agg(F.sum("amount").alias("revenue"))
    )
    running = Window.partitionBy("cohort_date").orderBy("days_since_install")
    cumulative = F.sum(F.coalesce("revenue", F.lit(0.0))).over(running)
    rows = grid.join(spent, ["cohort_date", "days_since_install"], "left").select(
        "cohort_date",
        F.col("days_since_install").cast("int").alias("days_since_install"),
        "cohort_size",
        cumulative.alias("cumulative_revenue"),
    )
    return rows.withColumn("ltv", F.col("cumulative_revenue") / F.col("cohort_size"))


def _tier_ceilings(payers: F.Column) -> list[tuple[str, F.Column]]:
    """Each tier's name and the last spend rank in it: its percent of payers, rounded up."""
    return [(name, F.floor((payers * percent + 99) / 100)) for name, percent in SPENDER_TIERS]


def spender_segments(events: DataFrame | MartInputs, currency: str = CURRENCY) -> DataFrame:
    """Per player seen: lifetime spend, spend rank among payers, segment and its revenue share.

    Payers are ranked by lifetime spend (1 = the most; equal spend, equal rank). The top 1 %
    of payers (rounded up) are whales, the next 9 % dolphins, the other payers minnows;
    players who never spent are non-payers. `segment_revenue_share` is the share of all
    revenue that the player's segment brought.
    """
    inputs = inputs_of(events)
    spend = (
        revenue_purchases(inputs.purchases, currency)
        .groupBy("player_id")
        .agg(F.sum("amount").alias("lifetime_spend"))
    )
    seen = (
        inputs.players.select("player_id")
        .join(spend, "player_id", "left")
        .withColumn("lifetime_spend", F.coalesce("lifetime_spend", F.lit(0.0)))
    )
    everyone = Window.partitionBy()
    payer = F.col("lifetime_spend") > 0
    ranked = seen.withColumn(
        "spend_rank",
        F.when(payer, F.rank().over(Window.orderBy(F.desc("lifetime_spend")))),
    ).withColumn("payers", F.count(F.when(payer, True)).over(everyone))
    segment = F.lit(NON_PAYER)
    for name, ceiling in reversed(_tier_ceilings(F.col("payers"))):
        segment = F.when(payer & (F.col("spend_rank") <= ceiling), name).otherwise(segment)
    with_segment = ranked.withColumn("segment", segment)
    total = F.sum("lifetime_spend").over(everyone)
    in_segment = F.sum("lifetime_spend").over(Window.partitionBy("segment"))
    return with_segment.select(
        "player_id",
        "lifetime_spend",
        F.col("spend_rank").cast("long").alias("spend_rank"),
        "segment",
        F.when(total > 0, in_segment / total).alias("segment_revenue_share"),
    )
