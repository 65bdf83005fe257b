"""`python -m chaos [--case NAME ...] [--topology cluster|single]`: run fault cases one at a
time against a running topology and write their table to docs/reliability.md."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

from chaos.cases import CASES
from chaos.harness import CaseResult
from chaos.report import write_report
from chaos.runner import run_case
from stack.probes import ready
from stack.services import services
from stack.settings import REPO_ROOT, StackSettings

RESULTS = REPO_ROOT / "chaos" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--case", action="append", choices=list(CASES), help="default: all")
    parser.add_argument("--topology", default="cluster", choices=["cluster", "single"])
    parser.add_argument("--port", type=int, default=35000, help="the ingest service's port")
    parser.add_argument("--no-report", action="store_true", help="leave docs/reliability.md")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the table from the saved results"
    )
    args = parser.parse_args(argv)
    settings = StackSettings.from_env(topology=args.topology)
    results_file = RESULTS / f"{args.topology}.json"
    if args.report_only:
        rows = [CaseResult(**row) for row in json.loads(results_file.read_text())]
        write_report(rows)
        return 0
    silent = [node.name for node in services(settings) if not ready(settings, node)]
    if silent:
        print(f"not answering: {', '.join(silent)}; run: make cluster-up", file=sys.stderr)
        return 1
    work_dir = settings.stack_dir / "chaos" / time.strftime("%Y%m%d-%H%M%S")
    # Rows of earlier runs stay until their case runs again (`--case` runs a few at a time).
    rows = {}
    if results_file.exists():
        rows = {row["case"]: CaseResult(**row) for row in json.loads(results_file.read_text())}
    passed = True
    for name in args.case or list(CASES):
        rows[name] = run_case(name, CASES[name], settings, work_dir, args.port)
        passed = passed and rows[name].passed
        RESULTS.mkdir(exist_ok=True)
        ordered = [rows[case] for case in CASES if case in rows]
        results_file.write_text(json.dumps([asdict(row) for row in ordered], indent=1) + "\n")
    if not args.no_report:
        write_report([rows[case] for case in CASES if case in rows])
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
