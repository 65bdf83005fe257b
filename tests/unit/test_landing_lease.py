"""One landing job per `events` table: a second is refused naming the first; a job that died
gives its lease up one term after its last renewal; a holder whose lease was taken stops."""

from __future__ import annotations

import re
import time

import pytest

from streaming.lease import LandingLease, LeaseHeld


@pytest.fixture
def events_path(tmp_path) -> str:
    return f"file:{tmp_path}/lake/events"


def test_a_second_job_on_the_same_table_is_refused_naming_the_first(spark, events_path):
    first = LandingLease(spark, events_path, ttl_s=6)
    first.acquire()
    try:
        second = LandingLease(spark, events_path, ttl_s=6)
        with pytest.raises(
            LeaseHeld, match=re.escape(first.owner) + " holds .*events.landing-lease"
        ):
            second.acquire(wait_s=2)
    finally:
        first.release()


def test_a_lease_given_back_is_taken_at_once(spark, events_path):
    first = LandingLease(spark, events_path, ttl_s=60)
    first.acquire()
    first.release()
    assert first.holder() is None
    second = LandingLease(spark, events_path, ttl_s=60)
    second.acquire(wait_s=0)
    assert second.holder()[0] == second.owner
    second.release()


def test_a_dead_jobs_lease_lapses_and_the_next_job_takes_it_over(spark, events_path):
    dead = LandingLease(spark, events_path, ttl_s=3)
    dead.acquire()
    # kill -9: the renewals stop and nothing is given back.
    dead._stop.set()
    dead._renewer.join()
    started = time.monotonic()
    restarted = LandingLease(spark, events_path, ttl_s=3)
    restarted.acquire()
    assert time.monotonic() - started < 3 * 7 / 6 + 1
    assert restarted.holder()[0] == restarted.owner
    restarted.release()


def test_a_holder_whose_lease_was_taken_over_knows_it(spark, events_path):
    stalled = LandingLease(spark, events_path, ttl_s=3)
    stalled.acquire()
    stalled._stop.set()  # a long pause: no renewal
    stalled._renewer.join()
    taker = LandingLease(spark, events_path, ttl_s=3)
    taker.acquire()
    # The pause ends: the next renewal finds another owner.
    stalled._stop.clear()
    stalled._renew_thread_start()
    assert stalled.lost.wait(5)
    stalled.release()
    assert taker.holder()[0] == taker.owner
    taker.release()
