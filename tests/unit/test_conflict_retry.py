"""`lake.io.retry_on_conflict`: every refusal Delta gives for a commit made beside another is
tried again; anything else is not."""

from __future__ import annotations

import pytest

from lake import io


@pytest.fixture(autouse=True)
def no_back_off(monkeypatch):
    monkeypatch.setattr(io, "wait_exponential", lambda **_: lambda _state: 0)


def flaky(error: Exception, failures: int, attempts: int | None = None):
    """A write that is refused `failures` times with `error`, then commits; tried up to
    `attempts` times (default: enough)."""
    calls = []

    @io.retry_on_conflict(attempts or failures + 1)
    def write() -> int:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return len(calls)

    return write


@pytest.mark.parametrize("conflict", io.CONFLICTS, ids=lambda c: c.__name__)
def test_each_conflict_of_delta_is_tried_again(conflict):
    # Two first writes into an empty folder: ProtocolChangedException, not a subclass of
    # DeltaConcurrentModificationException in Python.
    assert flaky(conflict(message="a commit beside it"), failures=2)() == 3


def test_other_errors_and_the_last_conflict_are_raised():
    with pytest.raises(ValueError):
        flaky(ValueError("bad"), failures=1)()
    with pytest.raises(io.CONFLICTS[0]):
        flaky(io.CONFLICTS[0](message="again"), failures=5, attempts=3)()
