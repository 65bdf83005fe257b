"""The shipped alert rules: valid, unit-tested by promtool, each with its runbook entry; the
stack's Prometheus configuration is valid and loads them."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from runtime.settings import REPO_ROOT
from stack.prometheus import OPS_DIR, RULES, program, write_config
from stack.settings import CLUSTER_DEFAULTS, StackSettings

pytestmark = pytest.mark.tools  # promtool
RUNBOOK = REPO_ROOT / "docs" / "operations.md"


def promtool(*arguments: str, cwd: Path = OPS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(
        [program("promtool"), *arguments], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def alert_names() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_rules_are_valid():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(alert_names())} rules found" in result.stdout


def test_each_alert_fires_when_it_should_and_not_before():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (OPS_DIR / "alerts_test.yml").read_text()))
    assert tested == set(alert_names())


def test_each_alert_has_a_runbook_entry_its_annotation_points_to():
    headings = re.findall(r"^### (\w+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    assert set(alert_names()) <= set(headings)
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            anchor = rule["alert"].lower()
            assert rule["annotations"]["runbook"] == f"docs/operations.md#{anchor}"


@pytest.mark.parametrize("topology", [StackSettings(), CLUSTER_DEFAULTS])
def test_the_stacks_prometheus_configuration_is_valid(topology, tmp_path):
    settings = replace(topology, stack_dir=tmp_path)
    path = write_config(settings)
    result = promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"] for job in yaml.safe_load(path.read_text())["scrape_configs"]}
    assert jobs == {"prometheus", "pushgateway", "lag", "landing", "ingest"}
    assert str(settings.prometheus_port) in path.read_text()
