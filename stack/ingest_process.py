"""Runs the ingest service under gunicorn in the background, for the demo, tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from runtime.settings import REPO_ROOT
from stack.background import background_server

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
    with background_server(
        [str(gunicorn), "-c", str(GUNICORN_CONF), app],
        environ,
        lambda: _answers(f"{base_url}{ready_path}"),
        "the ingest service (gunicorn)",
        log_path,
        timeout_s,
    ):
        yield base_url
