"""Prometheus and the Pushgateway of a topology: their configuration and command lines.

Prometheus scrapes itself, the Pushgateway (where batch jobs push), the lag exporter
(streaming/lag_exporter.py) and the services started on demand, which list themselves in
`<stack>/prometheus-targets/<job>.json` while they run (the landing service, `make serve`).
It evaluates the rules shipped in ops/prometheus/alerts.yml and serves the ops page from
ops/prometheus/consoles. Its data and the Pushgateway's stay under `<stack>/data`, with a
bounded retention.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from runtime.settings import REPO_ROOT, VENV_BIN
from stack.processes import StackError, tags
from stack.settings import StackSettings

OPS_DIR = REPO_ROOT / "ops" / "prometheus"
RULES = OPS_DIR / "alerts.yml"
CONSOLES = OPS_DIR / "consoles"
CONSOLE_LIBRARIES = OPS_DIR / "console_libraries"
ON_DEMAND_JOBS = ("landing", "ingest")
PYTHON = str(VENV_BIN / "python")


def program(name: str) -> str:
    """The path of a Debian-packaged program (prometheus, promtool, prometheus-pushgateway)."""
    found = shutil.which(name)
    if found is None:
        package = "prometheus-pushgateway" if "pushgateway" in name else "prometheus"
        raise StackError(f"{name} is not on PATH; `make setup` installs it ({package})")
    return found


def config(
    scrape_interval: str,
    rule_files: list[Path],
    static: dict[str, list[str]],
    file_sd: dict[str, Path] | None = None,
) -> dict:
    """A Prometheus configuration: `static` jobs' addresses, and jobs whose targets are read
    from files (`file_sd`: job -> file). The Pushgateway's job keeps the pushed labels."""
    jobs = [
        {
            "job_name": job,
            "honor_labels": job == "pushgateway",
            "static_configs": [{"targets": targets}],
        }
        for job, targets in static.items()
    ]
    jobs += [
        {"job_name": job, "file_sd_configs": [{"files": [str(path)]}]}
        for job, path in (file_sd or {}).items()
    ]
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": jobs,
    }


def write_config(settings: StackSettings) -> Path:
    """Render the topology's prometheus.yml (JSON is YAML) and return its path."""
    target = settings.conf_dir / "prometheus" / "prometheus.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    settings.scrape_targets_dir.mkdir(parents=True, exist_ok=True)
    static = {
        "prometheus": [f"127.0.0.1:{settings.prometheus_port}"],
        "pushgateway": [f"127.0.0.1:{settings.pushgateway_port}"],
        "lag": [f"127.0.0.1:{settings.lag_metrics_port}"],
    }
    file_sd = {job: settings.scrape_targets_dir / f"{job}.json" for job in ON_DEMAND_JOBS}
    body = config(settings.scrape_interval, [RULES], static, file_sd)
    target.write_text(json.dumps(body, indent=2) + "\n")
    return target


def list_target(settings: StackSettings, job: str, address: str) -> None:
    """Have Prometheus scrape `address` as `job` (a service started on demand)."""
    settings.scrape_targets_dir.mkdir(parents=True, exist_ok=True)
    path = settings.scrape_targets_dir / f"{job}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps([{"targets": [address], "labels": {}}]) + "\n")
    temporary.replace(path)


def unlist_target(settings: StackSettings, job: str) -> None:
    """Stop scraping `job` (its service was stopped on purpose)."""
    path = settings.scrape_targets_dir / f"{job}.json"
    if path.is_file():
        path.write_text("[]\n")


def prometheus_command(settings: StackSettings, name: str) -> list[str]:
    data = settings.data_dir / "prometheus"
    return [
        *launcher(settings, name),
        program("prometheus"),
        f"--config.file={write_config(settings)}",
        f"--storage.tsdb.path={data}",
        f"--storage.tsdb.retention.time={settings.prometheus_retention_time}",
        f"--storage.tsdb.retention.size={settings.prometheus_retention_size}",
        f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
        f"--web.console.templates={CONSOLES}",
        f"--web.console.libraries={CONSOLE_LIBRARIES}",
        f"--web.external-url={settings.prometheus_url}",
    ]


def pushgateway_command(settings: StackSettings, name: str) -> list[str]:
    data = settings.data_dir / "pushgateway"
    data.mkdir(parents=True, exist_ok=True)
    return [
        *launcher(settings, name),
        program("prometheus-pushgateway"),
        f"--web.listen-address=127.0.0.1:{settings.pushgateway_port}",
        # What batch jobs pushed survives a restart of the gateway.
        f"--persistence.file={data / 'metrics'}",
        "--persistence.interval=1m",
    ]


def lag_exporter_command(settings: StackSettings, name: str) -> tuple[list[str], dict[str, str]]:
    """The lag exporter, reading the topology's topic and lake."""
    bind = f"127.0.0.1:{settings.lag_metrics_port}"
    line = [PYTHON, "-m", "streaming.lag_exporter", "--bind", bind, *tags(settings, name)]
    return line, {**os.environ, **settings.client_environment()}


def launcher(settings: StackSettings, name: str) -> list[str]:
    """`python -m stack.tagged <tags> --`: the tags mark a program that takes no -D options."""
    return [PYTHON, "-m", "stack.tagged", *tags(settings, name), "--"]
