"""The one place that builds a `spark-submit` command line and its environment.

The environment points Spark at the stack's configuration (SPARK_CONF_DIR: the connector and
Delta jars, the table catalog), runs this venv's Python on both sides (PYSPARK_PYTHON,
PYSPARK_DRIVER_PYTHON) and puts the venv's `bin` first on PATH. The stack's landing service,
the demo, the tests, the fault cases and the benchmarks all start their jobs through it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from runtime.settings import REPO_ROOT, VENV_BIN, SharedSettings


def spark_environment(
    conf_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """`environ` with the stack's Spark conf (`conf_dir`, default from the settings), this
    venv's Python and `bin` on PATH, then `overrides` (a test's topic and lake, say)."""
    conf_dir = conf_dir or SharedSettings.from_env(environ).spark_conf_dir
    python = str(VENV_BIN / "python")
    return {
        **environ,
        "SPARK_CONF_DIR": str(conf_dir),
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        "PATH": f"{VENV_BIN}{os.pathsep}{environ.get('PATH', '')}",
        **(overrides or {}),
    }


def conf_options(conf: Mapping[str, str]) -> list[str]:
    """`--conf key=value` options of a spark-submit command line."""
    return [part for key, value in conf.items() for part in ("--conf", f"{key}={value}")]


def spark_submit_command(
    script: str | Path, *args: str, options: Sequence[str] = (), tool: str = "spark-submit"
) -> list[str]:
    """`spark-submit [options] script args` (or `spark-sql`, with `tool`) from this venv."""
    return [str(VENV_BIN / tool), *options, str(script), *args]


def run_spark_submit(
    script: str | Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    options: Sequence[str] = (),
    **run_options,
) -> subprocess.CompletedProcess:
    """Run an entry point with spark-submit from the repository root, capturing its output.

    `env` overrides the environment of `spark_environment()`; the result's return code is
    the caller's to check."""
    return subprocess.run(
        spark_submit_command(script, *args, options=options),
        cwd=REPO_ROOT,
        env=spark_environment(overrides=env),
        capture_output=True,
        text=True,
        **run_options,
    )
