"""`python -m bench [--quick]`: every benchmark against the running stack, each with its ceiling.

Writes bench/results/<date>.json and, for a full run, the results part of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from bench import kafka_ceiling, landing, report
from bench.ingest_load import Scenario, gunicorn_master, py_spy_record, top_frames, wrk_run
from bench.payloads import client_events, stored_purchase
from bench.spark_runs import spark_submit, stage_times
from bench.stats import ratio, summary
from bench.workspace import Workspace, free_port
from lake.settings import REPO_ROOT, LakeSettings
from stack.ingest_process import ingest_server

RESULTS_DIR = REPO_ROOT / "bench" / "results"
DOC = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"
# The load would otherwise meet the per-key and per-player token buckets (429s), which
# protect the service in production and are not what this measures.
NO_RATE_LIMITS = {
    "QUESTLOG_KEY_RATE_PER_S": "1e9",
    "QUESTLOG_KEY_BURST": "1000000000",
    "QUESTLOG_PLAYER_RATE_PER_S": "1e9",
    "QUESTLOG_PLAYER_BURST": "1000000000",
}
BATCH_EVENTS = 50
CONNECTIONS = 32  # the service's 2 workers x 16 threads, each kept busy (wrk -t2 -c32)


@dataclass(frozen=True)
class Mode:
    """How much a run measures: repeats, durations, sizes."""

    repeats: int
    spark_repeats: int
    perf_tool_events: int
    kafka_python_events: int
    wrk_seconds: int
    landing_events: int
    mart_events: tuple[int, ...]
    e2e_rounds: int
    e2e_round_seconds: int
    profile_seconds: int


MODES = {
    "full": Mode(3, 3, 300_000, 100_000, 15, 1_000_000, (1_000_000, 10_000_000), 3, 30, 15),
    "quick": Mode(2, 1, 100_000, 30_000, 5, 100_000, (200_000,), 2, 15, 0),
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


STAGES = ("kafka", "ingest", "landing", "end_to_end", "marts")


class Bench:
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

    # ------------------------------------------------------------ 1. the Kafka ceiling

    def kafka(self) -> None:
        topic = self.ws.topic("kafka")
        value = stored_purchase()
        bootstrap = self.ws.settings.kafka_bootstrap
        perf, python = [], []
        for number in range(self.mode.repeats):
            self.step(f"kafka: ProducerPerformance {number + 1}/{self.mode.repeats}")
            perf.append(
                kafka_ceiling.perf_tool_run(
                    bootstrap, topic, self.mode.perf_tool_events, len(value)
                )
            )
            self.done(f"ProducerPerformance: {perf[-1]}")
            self.step(f"kafka: kafka-python {number + 1}/{self.mode.repeats}")
            python.append(
                kafka_ceiling.kafka_python_run(
                    bootstrap, topic, self.mode.kafka_python_events, value
                )
            )
            self.done(f"kafka-python: {python[-1]}")
        self.details["kafka"] = {
            "record_bytes": len(value),
            "perf_tool": perf,
            "kafka_python": python,
        }
        tool = "ProducerPerformance (acks=all, idempotent)"
        self.figures += [
            figure("kafka", tool, "events/s", [r["events_per_s"] for r in perf]),
            figure("kafka", tool, "p99 ms", [r["p99_ms"] for r in perf]),
            figure(
                "kafka",
                "kafka-python producer, ingest settings",
                "events/s",
                [r["events_per_s"] for r in python],
                tool,
                [r["events_per_s"] for r in perf],
            ),
            figure(
                "kafka",
                "kafka-python producer, ingest settings",
                "p99 ms",
                [r["p99_ms"] for r in python],
                tool,
                [r["p99_ms"] for r in perf],
                higher_is_better=False,
            ),
        ]

    # ------------------------------------------------------------ 2. ingest

    def ingest(self) -> None:
        topic = self.ws.topic("ingest")
        single, batch = self.ws.local / "single.json", self.ws.local / "batch.json"
        purchases = [e for e in client_events(500) if e["event_type"] == "purchase"]
        single.write_text(json.dumps(purchases[0]))
        batch.write_text(json.dumps(client_events(BATCH_EVENTS, seed=11)))
        # A new player_id per request on the GET routes (bench/wrk/report.lua).
        sword = "/purchase_a_sword?player_id=player-1"
        scenarios = {
            "seed_app": Scenario(
                "seed's app GET /purchase_a_sword (fire-and-forget send)", "GET", sword, None, 1
            ),
            "noop": Scenario("no-op Flask route, single event", "POST", "/v1/events", single, 1),
            "seed": Scenario("seed GET /purchase_a_sword", "GET", sword, None, 1),
            "single": Scenario("POST /v1/events, single event", "POST", "/v1/events", single, 1),
            "batch": Scenario(
                f"POST /v1/events, {BATCH_EVENTS}-event batch", "POST", "/v1/events", batch, 50
            ),
        }
        env = {"QUESTLOG_TOPIC": topic, **NO_RATE_LIMITS}
        ports = {"ingest": free_port(), "noop": free_port(), "seed_app": free_port()}
        runs: dict[str, list[dict]] = {name: [] for name in scenarios}
        paced: dict[str, list[dict]] = {"seed": [], "single": []}
        with (
            ingest_server(
                ports["ingest"], env=env, log_path=self.ws.local / "ingest.log"
            ) as ingest,
            ingest_server(
                ports["noop"],
                log_path=self.ws.local / "noop.log",
                app="bench.noop_app:create_app()",
            ) as noop,
            ingest_server(
                ports["seed_app"],
                env=env,
                log_path=self.ws.local / "seed_app.log",
                app="bench.seed_app:create_app()",
                ready_path="/",
            ) as seed_app,
        ):
            urls = {name: ingest for name in scenarios} | {"noop": noop, "seed_app": seed_app}
            self.step("ingest: warm-up")
            for name, scenario in scenarios.items():
                wrk_run(urls[name], scenario, CONNECTIONS, 2)
            # Alternating, so that a slower moment of the machine hits every scenario alike.
            for number in range(self.mode.repeats):
                for name, scenario in scenarios.items():
                    self.step(f"ingest: {name} {number + 1}/{self.mode.repeats}")
                    runs[name].append(
                        wrk_run(urls[name], scenario, CONNECTIONS, self.mode.wrk_seconds)
                    )
                    self.done(f"{scenario.name}: {runs[name][-1]}")
            for name in paced:
                for number in range(self.mode.repeats):
                    self.step(
                        f"ingest: {name} at 80 % of its peak {number + 1}/{self.mode.repeats}"
                    )
                    paced[name].append(
                        self.at_share_of_peak(urls[name], scenarios[name], runs[name])
                    )
                    self.done(f"{scenarios[name].name} at 80 %: {paced[name][-1]}")
            if self.mode.profile_seconds:
                self.details["ingest_profile"] = {
                    name: self.profile(ports["ingest"], ingest, scenarios[name])
                    for name in ("single", "batch")
                }
        self.details["ingest"] = {
            "connections": CONNECTIONS,
            "seconds_per_run": self.mode.wrk_seconds,
            "gunicorn": "2 workers x 16 threads (gthread), ingest/gunicorn.conf.py",
            "runs": runs,
            "at_80_percent_of_peak": paced,
        }
        kafka_python = [r["events_per_s"] for r in self.details["kafka"]["kafka_python"]]
        seed_app_name = scenarios["seed_app"].name

        def metric(name, key, source=runs):
            return [r[key] for r in source[name]]

        self.figures += [
            figure("ingest", seed_app_name, "requests/s", metric("seed_app", "requests_per_s")),
            figure("ingest", seed_app_name, "p50 ms", metric("seed_app", "p50_ms")),
            figure("ingest", seed_app_name, "p99 ms", metric("seed_app", "p99_ms")),
            figure(
                "ingest", scenarios["noop"].name, "requests/s", metric("noop", "requests_per_s")
            ),
        ]
        for name in ("seed", "single"):
            label_ = scenarios[name].name
            self.figures += [
                figure(
                    "ingest",
                    label_,
                    "requests/s",
                    metric(name, "requests_per_s"),
                    seed_app_name,
                    metric("seed_app", "requests_per_s"),
                ),
                figure(
                    "ingest",
                    label_,
                    "p50 ms",
                    metric(name, "p50_ms"),
                    seed_app_name,
                    metric("seed_app", "p50_ms"),
                    higher_is_better=False,
                ),
                figure("ingest", label_, "p99 ms", metric(name, "p99_ms")),
                figure(
                    "ingest",
                    f"{label_}, at 80 % of its peak",
                    "requests/s",
                    metric(name, "requests_per_s", paced),
                ),
                figure(
                    "ingest",
                    f"{label_}, at 80 % of its peak",
                    "p99 ms",
                    metric(name, "p99_ms", paced),
                ),
                figure("ingest", label_, "errors", metric(name, "errors")),
            ]
        batch_name = scenarios["batch"].name
        self.figures += [
            figure(
                "ingest",
                batch_name,
                "events/s",
                metric("batch", "events_per_s"),
                "kafka-python producer, ingest settings",
                kafka_python,
            ),
            figure("ingest", batch_name, "requests/s", metric("batch", "requests_per_s")),
            figure("ingest", batch_name, "p50 ms", metric("batch", "p50_ms")),
            figure("ingest", batch_name, "p99 ms", metric("batch", "p99_ms")),
            figure("ingest", batch_name, "errors", metric("batch", "errors")),
        ]

    def at_share_of_peak(self, url: str, scenario: Scenario, peak_runs: list[dict]) -> dict:
        """A wrk run paced to 80 % of the peak rate: each connection pauses between requests.

        wrk keeps each connection closed-loop, so the pause is the time per request at the
        target rate less the latency; one correction from a short probe run brings the
        achieved rate near the target (the figure reports the rate achieved).
        """
        target = 0.8 * sum(r["requests_per_s"] for r in peak_runs) / len(peak_runs)
        per_request_ms = CONNECTIONS * 1000 / target
        delay = max(per_request_ms - min(r["mean_ms"] for r in peak_runs), 0)
        probe = wrk_run(url, scenario, CONNECTIONS, 3, delay_ms=delay)
        delay = max(per_request_ms - probe["mean_ms"], 0)
        run = wrk_run(url, scenario, CONNECTIONS, self.mode.wrk_seconds, delay_ms=delay)
        return {**run, "target_per_s": target, "delay_ms": delay}

    def profile(self, port: int, url: str, scenario: Scenario) -> dict:
        """py-spy over the ingest's workers while wrk sends `scenario`: where the time goes."""
        self.step(f"ingest: py-spy, {scenario.name}")
        output = self.ws.local / f"py-spy-{scenario.events_per_request}.txt"
        sampler = py_spy_record(gunicorn_master(port), self.mode.profile_seconds, output)
        time.sleep(1)
        load = wrk_run(url, scenario, CONNECTIONS, self.mode.profile_seconds)
        sampler.wait(timeout=120)
        frames = top_frames(output.read_text() if output.exists() else "", count=25)
        self.done(f"py-spy, {scenario.name}: {frames['samples']} samples")
        return {"load_while_sampled": load, **frames}

    # ------------------------------------------------------------ 3. landing

    def landing(self) -> None:
        events = self.mode.landing_events
        spark_events = self.ws.local / "spark-events"
        topic = self.ws.topic("landing")
        self.step(f"landing: fill a topic with {label(events)} events (Spark's Kafka producer)")
        fill = spark_submit(
            "bench/fill_topic.py", topic, str(events), env={}, event_log_dir=spark_events
        )
        self.done(f"filled {topic} with {events} events in {fill['seconds']:.0f} s")
        landed, plain, batches, landed_jobs, plain_jobs = [], [], [], [], []
        for number in range(self.mode.spark_repeats):
            self.step(f"landing: land_events --until-caught-up {number + 1}")
            env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": self.ws.hdfs(f"landing-{number}")}
            run = spark_submit(
                "streaming/land_events.py", "--until-caught-up", env=env, event_log_dir=spark_events
            )
            batches.append(landing.landed_batches(run["stdout"]))
            checkpoint = f"{LakeSettings(lake_root=env['QUESTLOG_LAKE_ROOT']).checkpoint_root}"
            committed = landing.committed_events(self.ws.webhdfs, f"{checkpoint}/land_events")
            if committed != events:
                raise RuntimeError(f"the landing job committed {committed} of {events} events")
            landed.append(events / run["seconds"])
            landed_jobs.append(stage_times(run["event_log"])["job_seconds"])
            self.done(f"land_events: {run['seconds']:.1f} s, {batches[-1]}")
            self.step(f"landing: plain batch read {number + 1}")
            ceiling = spark_submit(
                "bench/plain_landing.py",
                topic,
                self.ws.hdfs(f"plain-{number}"),
                env={},
                event_log_dir=spark_events,
            )
            plain.append(events / ceiling["seconds"])
            plain_jobs.append(stage_times(ceiling["event_log"])["job_seconds"])
            self.done(f"plain batch read: {ceiling['seconds']:.1f} s")
        self.details["landing"] = {
            "events": events,
            "fill_seconds": fill["seconds"],
            "batches": batches,
            "land_events_stages": stage_times(run["event_log"]),
            "plain_read_stages": stage_times(ceiling["event_log"]),
        }
        self.figures.append(
            figure(
                "landing",
                f"land_events AvailableNow, {label(events)} events (spark-submit wall time)",
                "events/s",
                landed,
                "plain Spark batch read -> Parquet, same offsets",
                plain,
            )
        )
        self.figures.append(
            figure(
                "landing",
                f"land_events AvailableNow, {label(events)} events, time in Spark jobs (event log)",
                "s",
                landed_jobs,
                "plain Spark batch read -> Parquet, same offsets",
                plain_jobs,
                higher_is_better=False,
            )
        )

    def end_to_end(self) -> None:
        topic = self.ws.topic("e2e")
        lake_root = self.ws.hdfs("e2e")
        env = {"QUESTLOG_TOPIC": topic, "QUESTLOG_LAKE_ROOT": lake_root}
        self.step("landing: start the landing service and the ingest service")
        with (
            landing.LandingService(env, self.ws.local / "landing-service.log"),
            ingest_server(
                free_port(), env={**env, **NO_RATE_LIMITS}, log_path=self.ws.local / "e2e.log"
            ) as url,
        ):
            self.step("landing: end-to-end latency (service mode)")
            watcher = landing.LakeWatcher(LakeSettings(lake_root=lake_root).events_path)
            result = landing.end_to_end_latency(
                url, watcher, self.mode.e2e_rounds, self.mode.e2e_round_seconds
            )
        self.done(f"end-to-end: {result}")
        self.details["end_to_end"] = {
            **result,
            "trigger_interval": LakeSettings().trigger_interval,
        }
        name = "202 -> readable in the lake, service mode"
        rounds = result["rounds"]
        self.figures += [
            figure("landing", name, "p50 s", [r["p50_s"] for r in rounds]),
            figure("landing", name, "p95 s", [r["p95_s"] for r in rounds]),
        ]

    # ------------------------------------------------------------ 4. marts

    def marts(self) -> None:
        # Imported here: DuckDB is a bench extra, and the doc writer must load without it.
        from bench import marts as duckdb_marts

        spark_events = self.ws.local / "spark-events"
        self.details["marts"] = {}
        for events in self.mode.mart_events:
            lake = self.ws.local / f"marts-{label(events)}"
            events_dir = lake / "lake" / "events"
            mart_dir = lake / "marts" / "player_purchases"
            self.step(f"marts: write {label(events)} synthetic events")
            generated = spark_submit(
                "bench/synthetic_lake.py",
                str(events),
                events_dir.as_uri(),
                env={},
                event_log_dir=spark_events,
            )
            self.done(f"{label(events)} events written in {generated['seconds']:.0f} s")
            spark, spark_jobs, duck = [], [], []
            for number in range(self.mode.spark_repeats):
                self.step(f"marts: Spark player_purchases {label(events)} {number + 1}")
                run = spark_submit(
                    "jobs/player_purchases.py",
                    "--events", events_dir.as_uri(),
                    "--out", mart_dir.as_uri(),
                    "--no-tables",
                    env={"QUESTLOG_LAKE_ROOT": lake.as_uri()},
                    event_log_dir=spark_events,
                )  # fmt: skip
                spark.append(run["seconds"])
                spark_jobs.append(stage_times(run["event_log"])["job_seconds"])
                self.done(f"Spark player_purchases {label(events)}: {run['seconds']:.1f} s")
                self.step(f"marts: DuckDB player_purchases {label(events)} {number + 1}")
                duck.append(
                    duckdb_marts.duckdb_player_purchases(
                        events_dir, lake / f"duck-{number}.parquet"
                    )
                )
                self.done(f"DuckDB player_purchases {label(events)}: {duck[-1]:.2f} s")
            check = duckdb_marts.compare_marts(mart_dir, lake / "duck-0.parquet")
            if not check["same"]:
                raise RuntimeError(f"Spark and DuckDB disagree on player_purchases: {check}")
            self.details["marts"][label(events)] = {
                "spark_seconds": spark,
                "duckdb_seconds": duck,
                "check": check,
                "spark_stages": stage_times(run["event_log"]),
            }
            self.figures += [
                figure(
                    "marts",
                    f"player_purchases, {label(events)} events, Spark (spark-submit wall time)",
                    "events/s",
                    [events / s for s in spark],
                    "DuckDB SQL, same Delta table",
                    [events / s for s in duck],
                ),
                figure(
                    "marts",
                    f"player_purchases, {label(events)} events, Spark (spark-submit wall time)",
                    "s",
                    spark,
                    "DuckDB SQL, same Delta table",
                    duck,
                    higher_is_better=False,
                ),
                figure(
                    "marts",
                    f"player_purchases, {label(events)} events, Spark time in jobs (event log)",
                    "s",
                    spark_jobs,
                    "DuckDB SQL, same Delta table",
                    duck,
                    higher_is_better=False,
                ),
            ]
            shutil.rmtree(lake, ignore_errors=True)

    def run(self, stages: tuple[str, ...] = STAGES) -> None:
        for stage in stages:
            getattr(self, stage)()


def steps(mode: Mode) -> int:
    """How many progress steps a run of `mode` takes."""
    kafka = 2 * mode.repeats
    ingest = 5 * mode.repeats + 2 * mode.repeats + (2 if mode.profile_seconds else 0)
    landing = 1 + 2 * mode.spark_repeats + 1
    return kafka + ingest + landing + len(mode.mart_events) * (1 + 2 * mode.spark_repeats)


def write_doc(results: dict, path: Path) -> None:
    """Replace the results part of docs/benchmarks.md; the text around it stays."""
    generated = "\n".join(
        [
            RESULTS_START,
            f"Measured {results['date']} with `{results['command']}` "
            f"({results['seconds'] / 60:.0f} min, run `{results['run_id']}`).",
            "",
            report.render_machine(results["machine"]),
            report.render_table(results["figures"]),
            RESULTS_END,
        ]
    )
    text = (
        path.read_text() if path.exists() else f"# Benchmarks\n\n{RESULTS_START}\n{RESULTS_END}\n"
    )
    before, _, rest = text.partition(RESULTS_START)
    _, _, after = rest.partition(RESULTS_END)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(before + generated + after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and folders")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated, of {', '.join(STAGES)} (default: all); the doc is written only "
        "for a full run of all of them",
    )
    parser.add_argument(
        "--spark-repeats", type=int, help="repeats of each Spark run (default: the mode's)"
    )
    args = parser.parse_args(argv)
    stages = tuple(s for s in args.stages.split(",") if s)
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages: {', '.join(sorted(unknown))}")
    mode_name = "quick" if args.quick else "full"
    mode = MODES[mode_name]
    if args.spark_repeats:
        mode = replace(mode, spark_repeats=args.spark_repeats)
    started = time.monotonic()
    now = datetime.now(UTC)
    run_id = now.strftime("%Y%m%d-%H%M%S")
    workspace = Workspace(run_id, LakeSettings.from_env())
    progress = tqdm(total=steps(mode), unit="step", dynamic_ncols=True)
    bench = Bench(mode, workspace, progress)
    try:
        bench.run(stages)
    finally:
        progress.close()
        if not args.keep:
            workspace.clean()
    results = {
        "date": now.strftime("%Y-%m-%d"),
        "run_id": run_id,
        "command": "make bench" if mode_name == "full" else "make bench-quick",
        "mode": asdict(mode),
        "seconds": time.monotonic() - started,
        "machine": report.machine(),
        "figures": bench.figures,
        "details": bench.details,
    }
    partial = stages != STAGES
    suffix = ("" if mode_name == "full" else "-quick") + ("-" + "-".join(stages) if partial else "")
    out = RESULTS_DIR / f"{results['date']}{suffix}.json"
    results["stages"] = list(stages)
    report.write_json(results, out)
    if mode_name == "full" and not partial:
        write_doc(results, DOC)
    print(report.render_table(bench.figures))
    wrote_doc = mode_name == "full" and not partial
    print(f"results: {out}" + (f"; table: {DOC}" if wrote_doc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
