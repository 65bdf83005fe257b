"""The results: the machine, the figures against their ceilings, as JSON and a markdown table."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

from stack.manager import read_versions

PACKAGES = ["flask", "gunicorn", "kafka-python", "pyspark", "duckdb", "py-spy"]


def _first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except OSError:
        return "missing"
    return (result.stdout + result.stderr).strip().splitlines()[0]


def machine() -> dict:
    """Cores, memory, CPU, OS and the versions of everything measured."""
    meminfo = Path("/proc/meminfo").read_text().split()
    cpu = [
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    stack = read_versions()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1),
        "cpu": cpu[0] if cpu else platform.processor(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": _first_line(["java", "-version"]),
        "kafka": stack["KAFKA_VERSION"],
        "hadoop": stack["HADOOP_VERSION"],
        "spark": stack["SPARK_VERSION"],
        "wrk": _first_line(["wrk", "--version"]).split(" Copyright")[0],
        **{name: version(name) for name in PACKAGES},
    }


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("events/s", "requests/s"):
        return f"{value:,.0f}"
    if unit == "errors":
        return f"{value:.0f}"
    return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"


def _spread(summary: dict, unit: str) -> str:
    low, high = _number(summary["min"], unit), _number(summary["max"], unit)
    return f"{low} – {high} (n={summary['n']})"


def render_table(figures: list[dict]) -> str:
    """One markdown row per figure: median, spread, its ceiling's median, the ratio."""
    lines = [
        "| stage | figure | unit | median | spread (min – max) | ceiling | ceiling median "
        "| ratio |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    for figure in figures:
        unit, ceiling = figure["unit"], figure.get("ceiling")
        ratio = figure.get("ratio")
        cells = [
            figure["stage"],
            figure["figure"],
            unit,
            _number(figure["summary"]["median"], unit),
            _spread(figure["summary"], unit),
            ceiling["name"] if ceiling else "—",
            _number(ceiling["summary"]["median"], unit) if ceiling else "—",
            f"{ratio:.2f}" if ratio is not None else "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_machine(info: dict) -> str:
    """The machine and versions as a markdown list."""
    return "".join(f"- {name}: {value}\n" for name, value in info.items())


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
