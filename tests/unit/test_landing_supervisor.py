"""The landing supervisor restarts a job that exits, with back-off, and says so in its state."""

from __future__ import annotations

import sys
import threading
import time

from stack import landing
from stack.processes import running_pid, tags
from stack.settings import StackSettings


def test_a_job_that_exits_is_restarted_with_back_off_and_the_state_says_so(tmp_path, monkeypatch):
    settings = StackSettings(stack_dir=tmp_path, stack_timeout=30)
    # A stand-in job that fails a moment after it started (one that exits before the
    # supervisor sees it running is recorded as "exited at start"), tagged as the landing job.
    code = "import sys, time; time.sleep(0.3); sys.exit(3)"
    failing = [sys.executable, "-c", code, *tags(settings, landing.LANDING)]
    monkeypatch.setattr(landing, "landing_command", lambda _: failing)
    stop = threading.Event()
    thread = threading.Thread(
        target=landing.supervise, args=(settings, stop, None, (0.2, 0.4, 0.8))
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while landing.read_state(settings).get("restarts", 0) < 3:
            assert time.monotonic() < deadline, landing.read_state(settings)
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    state = landing.read_state(settings)
    assert state["state"] == "stopped"
    assert state["last_exit"] == 3
    log = (tmp_path / "logs" / "landing.log").read_text()
    # The back-off doubles between restarts.
    assert "restart 1 in 0.2 s" in log and "restart 2 in 0.4 s" in log
    assert "restart 3 in 0.8 s" in log
    assert running_pid(settings, landing.LANDING) is None
