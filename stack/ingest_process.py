"""Runs the ingest service under gunicorn in the background, for the demo, tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = REPO_ROOT / "ingest" / "gunicorn.conf.py"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def ingest_server(
    port: int = 5000,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    timeout_s: float = 60.0,
    app: str = "ingest:create_app()",
    ready_path: str = "/readyz",
) -> Iterator[str]:
    """Start gunicorn on 127.0.0.1:`port`, wait until `ready_path` answers 200, yield its URL."""
    base_url = f"http://127.0.0.1:{port}"
    environ = {**os.environ, **(env or {}), "QUESTLOG_INGEST_BIND": f"127.0.0.1:{port}"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [str(gunicorn), "-c", str(GUNICORN_CONF), app],
        cwd=REPO_ROOT,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(f"{base_url}{ready_path}"):
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the ingest service was not ready in {timeout_s:g} s")
            time.sleep(0.2)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()
