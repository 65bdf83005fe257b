"""A server run in the background for as long as a `with` block: started, awaited, stopped."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from runtime.settings import REPO_ROOT


@contextlib.contextmanager
def background_server(
    command: list[str],
    env: Mapping[str, str],
    ready: Callable[[], bool],
    what: str,
    log_path: Path | None = None,
    timeout_s: float = 60.0,
    poll_s: float = 0.2,
) -> Iterator[subprocess.Popen]:
    """Start `command`, wait until `ready()` holds (or fail when it exits or times out), yield
    the process; SIGTERM it afterwards (SIGKILL after 30 s)."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} was not ready in {timeout_s:g} s")
            time.sleep(poll_s)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()
