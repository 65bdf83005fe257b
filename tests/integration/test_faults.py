"""Two fault cases of `make chaos` against the single stack: nothing acknowledged is lost.

Each runs the case function of chaos/cases.py with the single topology: load from simulated
clients that retry with the same event_id, the fault, then landing, the audit and an exact
reconciliation of every 202'd event_id against the lake. The cases run at the least pace that
still puts requests (broker kill) and a landing batch (driver kill) in flight at the fault,
and check that they did; landing, the audit and the reconciliation after the fault run in the
tests' Spark session.
"""

from __future__ import annotations

import os
from functools import partial

import pytest

from chaos.cases import broker_kill, landing_driver_kill
from chaos.harness import Pace
from chaos.jobs import SessionJobs
from chaos.runner import run_case
from stack.manager import up
from stack.settings import StackSettings
from tests.helpers.stack import free_port

QUICK = Pace(clients=4, warm_up_s=1, load_s=2, outage_s=4, after_s=1)


@pytest.fixture
def single_stack():
    """The single topology; whatever a case does to the broker, it runs again afterwards."""
    settings = StackSettings.from_env()
    yield settings
    up(settings, ["kafka"])


def test_broker_kill_under_load_loses_no_acknowledged_event(single_stack, tmp_path, spark):
    result = run_case(
        "broker-kill",
        broker_kill,
        single_stack,
        tmp_path,
        free_port(),
        QUICK,
        partial(SessionJobs, spark),
    )
    assert result.passed, result.notes
    assert (result.lost, result.landed_twice, result.audit) == (0, 0, "complete")
    assert result.requests_in_flight > 0, "the kill found no request waiting for Kafka"
    # The only broker died: clients saw 503s for a while, then 202s again.
    assert result.http_503 > 0
    assert 0 < result.acknowledged <= result.sent


def test_landing_driver_killed_mid_write_lands_every_event_once(single_stack, tmp_path, spark):
    result = run_case(
        "landing-driver-kill",
        landing_driver_kill,
        single_stack,
        tmp_path,
        free_port(),
        QUICK,
        partial(SessionJobs, spark),
    )
    assert result.passed, result.notes
    assert (result.lost, result.landed_twice, result.audit) == (0, 0, "complete")
    assert result.batch_in_flight, "the kill found no landing batch under way"
    # The whole process group died: spark-submit, its JVM and Python workers.
    (killed,) = [note for note in result.notes if "process group" in note]
    with pytest.raises(ProcessLookupError):
        os.killpg(int(killed.rsplit(" ", 1)[1]), 0)
