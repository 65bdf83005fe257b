"""Landing: the streaming job in AvailableNow mode against a plain batch read, and the
landing service's latency from 202 to readable."""

from __future__ import annotations

import json

from bench import landing
from bench.run import NO_RATE_LIMITS, Run, figure, label
from bench.spark_runs import spark_submit, stage_times
from bench.workspace import free_port
from lake.settings import LakeSettings
from stack.ingest_process import ingest_server


def measure(run: Run) -> None:
    """Land the mode's events (repeated) and, when the mode has one, a large topic once."""
    landed = land_against_plain_read(run, run.mode.landing_events, run.mode.spark_repeats)
    if "ingest" in run.details:
        batches = [r["events_per_s"] for r in run.details["ingest"]["runs"]["batch"]]
        run.figures.append(
            figure(
                "landing",
                f"land_events AvailableNow, {label(run.mode.landing_events)} events",
                "events/s",
                landed,
                "the ingest service, 50-event batches, this run",
                batches,
            )
        )
    if run.mode.landing_large_events:
        land_against_plain_read(run, run.mode.landing_large_events, 1)


def land_against_plain_read(run: Run, events: int, repeats: int) -> list[float]:
    """land_events --until-caught-up against a plain batch read of the same topic; events/s."""
    spark_events = run.ws.local / "spark-events"
    topic = run.ws.topic(f"landing-{label(events)}")
    run.step(f"landing: fill a topic with {label(events)} events (Spark's Kafka producer)")
    fill = spark_submit(
        "bench/fill_topic.py", topic, str(events), env={}, event_log_dir=spark_events
    )
    run.done(f"filled {topic} with {events} events in {fill['seconds']:.0f} s")
    landed, plain, batches, landed_jobs, plain_jobs = [], [], [], [], []
    for number in range(repeats):
        run.step(f"landing: land_events {label(events)} --until-caught-up {number + 1}")
        lake_root = run.ws.hdfs(f"landing-{label(events)}-{number}")
        env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root}
        job = spark_submit(
            "streaming/land_events.py", "--until-caught-up", env=env, event_log_dir=spark_events
        )
        batches.append(landing.landed_batches(job["stdout"]))
        checkpoint = f"{LakeSettings(lake_root=lake_root).checkpoint_root}"
        committed = landing.committed_events(run.ws.webhdfs, f"{checkpoint}/land_events")
        if committed != events:
            raise RuntimeError(f"the landing job committed {committed} of {events} events")
        landed.append(events / job["seconds"])
        landed_jobs.append(stage_times(job["event_log"])["job_seconds"])
        run.done(f"land_events: {job['seconds']:.1f} s, {batches[-1]}")
        run.step(f"landing: plain batch read {label(events)} {number + 1}")
        ceiling = spark_submit(
            "bench/plain_landing.py",
            topic,
            run.ws.hdfs(f"plain-{label(events)}-{number}"),
            env={},
            event_log_dir=spark_events,
        )
        plain.append(events / ceiling["seconds"])
        plain_jobs.append(stage_times(ceiling["event_log"])["job_seconds"])
        run.done(f"plain batch read: {ceiling['seconds']:.1f} s")
    run.details[f"landing_{label(events)}"] = {
        "events": events,
        "fill_seconds": fill["seconds"],
        "batches": batches,
        "land_events_stages": stage_times(job["event_log"]),
        "plain_read_stages": stage_times(ceiling["event_log"]),
    }
    plain_name = "plain Spark batch read -> Parquet, same offsets"
    name = f"land_events AvailableNow, {label(events)} events"
    run.figures += [
        figure("landing", f"{name} (spark-submit wall time)", "events/s", landed, plain_name,
               plain),
        figure("landing", f"{name}, time in Spark jobs (event log)", "s", landed_jobs,
               plain_name, plain_jobs, higher_is_better=False),
    ]  # fmt: skip
    return landed


HISTORY_DAYS = 60


def warm_batch_by_history(run: Run) -> None:
    """A warm landing batch into a lake of each history size (synthetic, with its key index):
    its time against the same batch into the smallest lake. Dedupe by key should cost what
    the batch costs, not what the lake holds."""
    batch = run.mode.warm_batch_events
    spark_events = run.ws.local / "spark-events"
    topic = run.ws.topic(f"history-{label(batch)}")
    run.step(f"history: fill a topic with 2 x {label(batch)} events")
    spark_submit("bench/fill_topic.py", topic, str(2 * batch), env={}, event_log_dir=spark_events)
    run.done(f"filled {topic}")
    runs = {}
    for history in run.mode.history_events:
        run.step(f"history: a warm {label(batch)} batch into {label(history)} events")
        lake_root = run.ws.hdfs(f"history-{label(history)}")
        job = spark_submit(
            "bench/warm_batch.py",
            str(history),
            str(HISTORY_DAYS),
            lake_root,
            topic,
            str(batch),
            env={},
            event_log_dir=spark_events,
        )
        runs[history] = json.loads(job["stdout"].strip().splitlines()[-1])
        landed = [b["landed"] for b in runs[history]["batches"]]
        if landed != [batch, batch]:
            raise RuntimeError(f"expected two batches of {batch} landed, got {landed}")
        run.done(f"into {label(history)}: {runs[history]}")
    run.details["warm_batch_by_history"] = {str(h): r for h, r in runs.items()}
    smallest = min(runs)
    base = [runs[smallest]["batches"][1]["batch_ms"] / 1000]
    for history in sorted(runs)[1:]:
        run.figures.append(
            figure(
                "history",
                f"a warm {label(batch)} batch into {label(history)} events over "
                f"{HISTORY_DAYS} days (batch time)",
                "s",
                [runs[history]["batches"][1]["batch_ms"] / 1000],
                f"the same batch into {label(smallest)} events",
                base,
                higher_is_better=False,
            )
        )


def end_to_end(run: Run) -> None:
    topic = run.ws.topic("e2e")
    lake_root = run.ws.hdfs("e2e")
    env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root}
    run.step("landing: start the landing service and the ingest service")
    with (
        landing.LandingService(env, run.ws.local / "landing-service.log"),
        ingest_server(
            free_port(), env={**env, **NO_RATE_LIMITS}, log_path=run.ws.local / "e2e.log"
        ) as url,
    ):
        run.step("landing: end-to-end latency (service mode)")
        watcher = landing.LakeWatcher(LakeSettings(lake_root=lake_root).events_path)
        result = landing.end_to_end_latency(
            url, watcher, run.mode.e2e_rounds, run.mode.e2e_round_seconds
        )
    run.done(f"end-to-end: {result}")
    run.details["end_to_end"] = {
        **result,
        "trigger_interval": LakeSettings().trigger_interval,
    }
    name = "202 -> readable in the lake, service mode"
    shown = "202 -> GET /v1/players/<id> shows the purchase, service mode (marts follow)"
    rounds = result["rounds"]
    run.figures += [
        figure("end_to_end", name, "p50 s", [r["p50_s"] for r in rounds]),
        figure("end_to_end", name, "p95 s", [r["p95_s"] for r in rounds]),
        figure("end_to_end", shown, "p50 s", [r["player_p50_s"] for r in rounds]),
        figure("end_to_end", shown, "p95 s", [r["player_p95_s"] for r in rounds]),
    ]
