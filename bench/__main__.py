"""`python -m bench [--quick]`: every benchmark against the running stack, each with its ceiling.

Writes bench/results/<date>.json and, for a full-mode run, the results part of
docs/benchmarks.md: each stage's figures come from the newest full-mode run of that stage
(bench/results/doc.json keeps them), and every ratio is between figures of one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from bench import report, stage_ingest, stage_kafka, stage_landing, stage_marts
from bench.run import MODES, Mode, Run
from bench.workspace import Workspace
from lake.settings import REPO_ROOT, LakeSettings
from runtime.marts import MARTS

RESULTS_DIR = REPO_ROOT / "bench" / "results"
DOC = REPO_ROOT / "docs" / "benchmarks.md"
DOC_FIGURES = RESULTS_DIR / "doc.json"
RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"
STAGES = {
    "kafka": stage_kafka.measure,
    "ingest": stage_ingest.measure,
    "landing": stage_landing.measure,
    "history": stage_landing.warm_batch_by_history,
    "end_to_end": stage_landing.end_to_end,
    "marts": stage_marts.measure,
}
# A stage's ceiling measured by another stage, which then runs first in the same run.
NEEDS = {"ingest": ("kafka",)}


def steps(mode: Mode, stages: tuple[str, ...]) -> int:
    """How many progress steps the stages of a run of `mode` take."""
    per_stage = {
        "kafka": 2 * mode.repeats,
        "ingest": 1
        + 11 * mode.repeats
        + stage_ingest.paired_round_count(mode)
        + (2 if mode.profile_seconds else 0),
        "landing": 1 + 2 * mode.spark_repeats + (3 if mode.landing_large_events else 0),
        "history": 1 + len(mode.history_events),
        "end_to_end": 1,
        "marts": len(mode.mart_events) * (2 + mode.spark_repeats * (5 + len(MARTS))),
    }
    return sum(per_stage[stage] for stage in stages)


def write_doc(results: dict, doc: Path = DOC, figures_path: Path = DOC_FIGURES) -> None:
    """Keep this run's figures per stage in doc.json; rewrite the doc's results from it.

    A figure of the run replaces the kept figure of the same name; the stage's other kept
    figures (a size this run left out) stay, with the run that measured them.
    """
    kept = json.loads(figures_path.read_text()) if figures_path.exists() else {}
    for stage in results["stages"]:
        fresh = [
            {**f, "run_id": results["run_id"], "date": results["date"]}
            for f in results["figures"]
            if f["stage"] == stage
        ]
        names = {f["figure"] for f in fresh}
        earlier = kept.get(stage, {})
        older = [
            {"run_id": earlier.get("run_id"), "date": earlier.get("date"), **f}
            for f in earlier.get("figures", [])
            if f["figure"] not in names
        ]
        kept[stage] = {
            "date": results["date"],
            "run_id": results["run_id"],
            "command": results["command"],
            "machine": results["machine"],
            "figures": older + fresh,
        }
    figures_path.write_text(json.dumps(kept, indent=2) + "\n")
    ordered = [kept[stage] for stage in STAGES if stage in kept]
    runs = "; ".join(
        f"{stage}: "
        + ", ".join(
            f"{date} run `{run_id}`"
            for date, run_id in dict.fromkeys(
                (f.get("date", kept[stage]["date"]), f.get("run_id", kept[stage]["run_id"]))
                for f in kept[stage]["figures"]
            )
        )
        for stage in STAGES
        if stage in kept
    )
    generated = "\n".join(
        [
            RESULTS_START,
            f"Measured with `make bench` (or `python -m bench --stages ...`), newest run of "
            f"each stage: {runs}.",
            "",
            report.render_machine(results["machine"]),
            report.render_table([figure for entry in ordered for figure in entry["figures"]]),
            RESULTS_END,
        ]
    )
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{RESULTS_START}\n{RESULTS_END}\n"
    before, _, rest = text.partition(RESULTS_START)
    _, _, after = rest.partition(RESULTS_END)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(before + generated + after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and folders")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated, of {', '.join(STAGES)} (default: all)",
    )
    parser.add_argument(
        "--spark-repeats", type=int, help="repeats of each Spark run (default: the mode's)"
    )
    parser.add_argument(
        "--mart-events",
        help="comma-separated sizes of the marts stage (default: the mode's, 1M and 10M)",
    )
    parser.add_argument(
        "--history-events",
        help="comma-separated lake sizes a warm batch lands into (default: the mode's, 1M and 50M)",
    )
    parser.add_argument(
        "--landing-large-events",
        type=int,
        help="events of the landing stage's one large run, 0 for none (default: the mode's, 10M)",
    )
    args = parser.parse_args(argv)
    asked = {s for s in args.stages.split(",") if s}
    unknown = asked - set(STAGES)
    if unknown:
        parser.error(f"unknown stages: {', '.join(sorted(unknown))}")
    asked |= {need for stage in asked for need in NEEDS.get(stage, ())}
    stages = tuple(stage for stage in STAGES if stage in asked)
    mode_name = "quick" if args.quick else "full"
    mode = MODES[mode_name]
    if args.spark_repeats:
        mode = replace(mode, spark_repeats=args.spark_repeats)
    if args.mart_events:
        mode = replace(mode, mart_events=tuple(int(n) for n in args.mart_events.split(",")))
    if args.history_events:
        mode = replace(mode, history_events=tuple(int(n) for n in args.history_events.split(",")))
    if args.landing_large_events is not None:
        mode = replace(mode, landing_large_events=args.landing_large_events)
    started = time.monotonic()
    now = datetime.now(UTC)
    run_id = now.strftime("%Y%m%d-%H%M%S")
    workspace = Workspace(run_id, LakeSettings.from_env())
    progress = tqdm(total=steps(mode, stages), unit="step", dynamic_ncols=True)
    run = Run(mode, workspace, progress)
    try:
        for stage in stages:
            STAGES[stage](run)
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
        "stages": list(stages),
        "figures": run.figures,
        "details": run.details,
    }
    partial = stages != tuple(STAGES)
    suffix = ("" if mode_name == "full" else "-quick") + ("-" + "-".join(stages) if partial else "")
    out = RESULTS_DIR / f"{results['date']}{suffix}.json"
    report.write_json(results, out)
    if mode_name == "full":
        write_doc(results)
    print(report.render_table(run.figures))
    print(f"results: {out}" + (f"; table: {DOC}" if mode_name == "full" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
