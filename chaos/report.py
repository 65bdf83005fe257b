"""The table of docs/reliability.md, from the results of `python -m chaos`."""

from __future__ import annotations

import re
import time

from chaos.harness import CaseResult
from stack.settings import REPO_ROOT

DOC = REPO_ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- chaos table: begin -->", "<!-- chaos table: end -->"


def table(results: list[CaseResult]) -> str:
    """A Markdown table: one row per case."""
    lines = [
        "| case | topology | sent | 202 | 503s | longest 503 window (s) | errors | lost "
        "| landed twice | audit | recovery (s) | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in results:
        recovery = "" if r.recovery_s is None else f"{r.recovery_s:.1f}"
        lines.append(
            f"| {r.case} | {r.topology} | {r.sent} | {r.acknowledged} | {r.http_503} "
            f"| {r.longest_503_s:.1f} | {r.errors} | {_n(r.lost)} | {_n(r.landed_twice)} "
            f"| {r.audit} | {recovery} | {'pass' if r.passed else 'FAIL'} |"
        )
    return "\n".join(lines)


def _n(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def write_report(results: list[CaseResult]) -> None:
    """Replace the table between the markers of docs/reliability.md (the prose stays)."""
    written = time.strftime("%Y-%m-%d %H:%M")
    block = f"{BEGIN}\n_Written {written} from `chaos/results/` by `python -m chaos`._\n\n"
    block += table(results) + "\n\nNotes per case:\n\n"
    for r in results:
        block += f"- **{r.case}**: " + "; ".join(r.notes or ["-"]) + "\n"
    block += END
    text = DOC.read_text() if DOC.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    DOC.write_text(pattern.sub(lambda _: block, text))
    print(f"wrote {DOC}")
