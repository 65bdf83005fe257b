"""Waiting for a condition with a deadline, not for a fixed time."""

from __future__ import annotations

import time


def eventually(condition, timeout_s: float = 5.0, every_s: float = 0.01):
    """Poll `condition` until it returns something true, and return that; fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every_s)
    return result
