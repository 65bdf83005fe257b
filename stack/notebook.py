"""`make notebook`: JupyterLab on localhost with the stack's settings.

The server gets the lake's `QUESTLOG_*` settings, the stack's Spark conf (`SPARK_CONF_DIR`,
with the connector jars) and this venv's Python for pyspark, so a cell can read the marts with
pandas (`lake.files.read_mart_pandas`) or start a pyspark session that finds the SQL tables.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from lake.settings import LakeSettings
from runtime.settings import REPO_ROOT, VENV_BIN, env_overrides
from runtime.spark_submit import spark_environment
from stack.background import background_server


@dataclass(frozen=True, kw_only=True)
class NotebookSettings:
    """Where JupyterLab listens."""

    jupyter_bind: str = "127.0.0.1"
    jupyter_port: int = 8888

    @classmethod
    def from_env(cls, environ=os.environ) -> NotebookSettings:
        return cls(**env_overrides(cls, environ))


def notebook_env(lake: LakeSettings, environ=os.environ) -> dict[str, str]:
    """The environment of the server and its kernels: the stack's Spark conf, this Python."""
    return spark_environment(lake.spark_conf_dir, {"PYTHONPATH": str(REPO_ROOT)}, environ)


def lab_command(settings: NotebookSettings, token: str | None = None) -> list[str]:
    """JupyterLab serving the repository (notebooks/ in it), no browser, on the one port."""
    command = [
        str(VENV_BIN / "jupyter-lab"),
        "--no-browser",
        f"--ServerApp.ip={settings.jupyter_bind}",
        f"--ServerApp.port={settings.jupyter_port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={REPO_ROOT}",
    ]
    if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses root without this
        command.append("--ServerApp.allow_root=True")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    return command


@contextlib.contextmanager
def jupyter_lab(
    settings: NotebookSettings, token: str, log_path: Path, timeout_s: float = 120.0
) -> Iterator[str]:
    """Start JupyterLab in the background, wait until its REST API answers, yield its URL."""
    base_url = f"http://{settings.jupyter_bind}:{settings.jupyter_port}"
    with background_server(
        lab_command(settings, token),
        notebook_env(LakeSettings.from_env()),
        lambda: _answers(f"{base_url}/api/status", token),
        "JupyterLab",
        log_path,
        timeout_s,
        poll_s=0.5,
    ):
        yield base_url


def _answers(url: str, token: str) -> bool:
    try:
        response = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200


def main() -> int:
    lake = LakeSettings.from_env()
    settings = NotebookSettings.from_env()
    print(
        f"JupyterLab on http://{settings.jupyter_bind}:{settings.jupyter_port}/lab, lake "
        f"{lake.lake_root}; open notebooks/kpis.ipynb or notebooks/player_purchases.ipynb"
    )
    command = lab_command(settings)
    os.execve(command[0], command, notebook_env(lake))


if __name__ == "__main__":
    sys.exit(main())
