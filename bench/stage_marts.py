"""The marts: every mart in one Spark session against one spark-submit per mart, and Spark
against DuckDB on the same synthetic Delta table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.run import Run, figure, label
from bench.spark_runs import spark_submit, stage_times
from runtime.marts import MARTS


def measure(run: Run) -> None:
    spark_events = run.ws.local / "spark-events"
    run.details["marts"] = {}
    for events in run.mode.mart_events:
        lake = run.ws.local / f"marts-{label(events)}"
        events_dir = (lake / "lake" / "events").as_uri()
        run.step(f"marts: write {label(events)} synthetic events")
        generated = spark_submit(
            "bench/synthetic_lake.py", str(events), events_dir, env={}, event_log_dir=spark_events
        )
        run.done(f"{label(events)} events written in {generated['seconds']:.0f} s")
        run.details["marts"][label(events)] = {"synthetic_seconds": generated["seconds"]}
        all_marts_vs_single_runs(run, events, lake, events_dir)
        player_purchases_vs_duckdb(run, events, lake, events_dir)
        incremental_vs_full(run, events, lake, events_dir)
        shutil.rmtree(lake, ignore_errors=True)


def mart_job(run: Run, script: str, lake: Path, events_dir: str, *args: str) -> dict:
    """A mart entry point on the synthetic lake, without SQL tables, timed (`spark_submit`)."""
    return spark_submit(
        script, *args, "--events", events_dir, "--no-tables",
        env={"QUESTLOG_LAKE_ROOT": lake.as_uri()}, event_log_dir=run.ws.local / "spark-events",
    )  # fmt: skip


def incremental_vs_full(run: Run, events: int, lake: Path, events_dir: str) -> None:
    """run_marts after appending 1 % (a tenth of it late by up to 3 days) against
    run_marts --full on the same lake: the refresh reads only what changed."""
    spark_events = run.ws.local / "spark-events"
    full, refreshed = [], []
    for number in range(run.mode.spark_repeats):
        run.step(f"marts: run_marts --full, {label(events)} {number + 1}")
        job = mart_job(run, "jobs/run_marts.py", lake, events_dir, "--full")
        full.append(job["seconds"])
        run.done(f"run_marts --full {label(events)}: {job['seconds']:.1f} s")
        run.step(f"marts: append 1 % to {label(events)}, then run_marts {number + 1}")
        spark_submit(
            "bench/append_events.py", events_dir, str(events // 100), env={},
            event_log_dir=spark_events,
        )  # fmt: skip
        job = mart_job(run, "jobs/run_marts.py", lake, events_dir)
        refreshed.append(job["seconds"])
        run.done(f"run_marts after 1 % more: {job['seconds']:.1f} s")
    run.details["marts"][label(events)] |= {
        "run_marts_full_seconds": full,
        "run_marts_after_one_percent_seconds": refreshed,
    }
    run.figures.append(
        figure(
            "marts",
            f"all {len(MARTS)} marts after appending 1 % (some late) to {label(events)} events, "
            "refreshed from what changed (jobs/run_marts.py)",
            "s",
            refreshed,
            "run_marts --full, same lake",
            full,
            higher_is_better=False,
        )
    )
    # The same, in a session already running, as the landing service's marts follow the stream.
    run.step(f"marts: --full then 1 % more and a refresh in one session, {label(events)}")
    job = spark_submit(
        "bench/warm_refresh.py", events_dir, str(events // 100), str(run.mode.spark_repeats),
        env={"QUESTLOG_LAKE_ROOT": lake.as_uri()}, event_log_dir=spark_events,
    )  # fmt: skip
    warm = json.loads(job["stdout"].strip().splitlines()[-1])
    run.done(f"in a running session: {warm}")
    run.details["marts"][label(events)] |= {"running_session": warm}
    refreshed_warm = warm["refreshed_seconds"]
    for baseline, seconds in (
        ("run_marts --full, same lake", full),
        ("every mart from every event in the same running session", warm["full_seconds"]),
    ):
        run.figures.append(
            figure(
                "marts",
                f"all {len(MARTS)} marts after appending 1 % (some late) to {label(events)} "
                "events, refreshed in a running session (bench/warm_refresh.py)",
                "s",
                refreshed_warm,
                baseline,
                seconds,
                higher_is_better=False,
            )
        )


def all_marts_vs_single_runs(run: Run, events: int, lake: Path, events_dir: str) -> None:
    """jobs/run_marts.py --full (one session) against each mart's own entry point."""
    together, summed, slowest = [], [], []
    singles: dict[str, list[float]] = {name: [] for name in MARTS}
    for number in range(run.mode.spark_repeats):
        run.step(f"marts: run_marts, all {len(MARTS)} marts, {label(events)} {number + 1}")
        job = mart_job(run, "jobs/run_marts.py", lake, events_dir, "--full")
        together.append(job["seconds"])
        run.done(f"run_marts {label(events)}: {job['seconds']:.1f} s")
        for name in MARTS:
            run.step(f"marts: {name} alone, {label(events)} {number + 1}")
            job = mart_job(run, f"jobs/{name}.py", lake, events_dir)
            singles[name].append(job["seconds"])
            run.done(f"{name} {label(events)}: {job['seconds']:.1f} s")
        summed.append(sum(times[-1] for times in singles.values()))
        slowest.append(max(times[-1] for times in singles.values()))
    run.details["marts"][label(events)] |= {
        "run_marts_seconds": together,
        "single_mart_seconds": singles,
    }
    name = f"all {len(MARTS)} marts, {label(events)} events, one session (jobs/run_marts.py)"
    run.figures += [
        figure(
            "marts", name, "s", together, "the slowest single mart's spark-submit", slowest,
            higher_is_better=False,
        ),
        figure(
            "marts", name, "s", together, f"the {len(MARTS)} marts' spark-submits, summed",
            summed, higher_is_better=False,
        ),
    ]  # fmt: skip


def player_purchases_vs_duckdb(run: Run, events: int, lake: Path, events_dir: str) -> None:
    """The player_purchases mart in Spark and in DuckDB's SQL; both must give the same rows."""
    # Imported here: DuckDB is a bench extra, and the doc writer must load without it.
    from bench import marts as duckdb_marts

    spark_events = run.ws.local / "spark-events"
    mart_dir = lake / "marts" / "player_purchases"
    events_path = Path(events_dir.removeprefix("file://"))
    spark, spark_jobs, duck = [], [], []
    for number in range(run.mode.spark_repeats):
        run.step(f"marts: Spark player_purchases {label(events)} {number + 1}")
        job = spark_submit(
            "jobs/player_purchases.py",
            "--events", events_dir,
            "--out", mart_dir.as_uri(),
            "--no-tables",
            env={"QUESTLOG_LAKE_ROOT": lake.as_uri()},
            event_log_dir=spark_events,
        )  # fmt: skip
        spark.append(job["seconds"])
        spark_jobs.append(stage_times(job["event_log"])["job_seconds"])
        run.done(f"Spark player_purchases {label(events)}: {job['seconds']:.1f} s")
        run.step(f"marts: DuckDB player_purchases {label(events)} {number + 1}")
        duck.append(
            duckdb_marts.duckdb_player_purchases(events_path, lake / f"duck-{number}.parquet")
        )
        run.done(f"DuckDB player_purchases {label(events)}: {duck[-1]:.2f} s")
    check = duckdb_marts.compare_marts(mart_dir, lake / "duck-0.parquet")
    if not check["same"]:
        raise RuntimeError(f"Spark and DuckDB disagree on player_purchases: {check}")
    run.details["marts"][label(events)] |= {
        "spark_seconds": spark,
        "duckdb_seconds": duck,
        "check": check,
        "spark_stages": stage_times(job["event_log"]),
    }
    name = f"player_purchases, {label(events)} events, Spark"
    duckdb = "DuckDB SQL, same Delta table"
    run.figures += [
        figure(
            "marts", f"{name} (spark-submit wall time)", "events/s",
            [events / s for s in spark], duckdb, [events / s for s in duck],
        ),
        figure(
            "marts", f"{name} (spark-submit wall time)", "s", spark, duckdb, duck,
            higher_is_better=False,
        ),
        figure(
            "marts", f"{name} time in jobs (event log)", "s", spark_jobs, duckdb, duck,
            higher_is_better=False,
        ),
    ]  # fmt: skip
