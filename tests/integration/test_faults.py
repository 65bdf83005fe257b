"""Two fault cases of `make chaos` against the single stack: nothing acknowledged is lost.

Each runs the case function of chaos/cases.py with the single topology: load from simulated
clients that retry with the same event_id, the fault, then landing, the audit and an exact
reconciliation of every 202'd event_id against the lake.
"""

from __future__ import annotations

import pytest

from chaos.cases import broker_kill, landing_driver_kill
from chaos.runner import run_case
from stack.manager import up
from stack.settings import StackSettings
from tests.helpers.stack import free_port


@pytest.fixture
def single_stack():
    """The single topology; whatever a case does to the broker, it runs again afterwards."""
    settings = StackSettings.from_env()
    yield settings
    up(settings, ["kafka"])


def test_broker_kill_under_load_loses_no_acknowledged_event(single_stack, tmp_path):
    result = run_case("broker-kill", broker_kill, single_stack, tmp_path, free_port())
    assert result.passed, result.notes
    assert (result.lost, result.landed_twice, result.audit) == (0, 0, "complete")
    # The only broker died: clients saw 503s for a while, then 202s again.
    assert result.http_503 > 0
    assert 0 < result.acknowledged <= result.sent


def test_landing_driver_killed_mid_write_lands_every_event_once(single_stack, tmp_path):
    result = run_case(
        "landing-driver-kill", landing_driver_kill, single_stack, tmp_path, free_port()
    )
    assert result.passed, result.notes
    assert (result.lost, result.landed_twice, result.audit) == (0, 0, "complete")
    assert any("process group" in note for note in result.notes)
