"""The one builder of spark-submit's environment and command line."""

from __future__ import annotations

from pathlib import Path

from runtime.settings import VENV_BIN
from runtime.spark_submit import conf_options, spark_environment, spark_submit_command
from stack import landing
from stack.settings import StackSettings


def test_the_environment_points_spark_at_the_stacks_conf_and_this_venv():
    environ = {"PATH": "/usr/bin", "QUESTLOG_STACK_DIR": "/tmp/stack-x", "HOME": "/h"}
    env = spark_environment(environ=environ)
    assert env["SPARK_CONF_DIR"] == "/tmp/stack-x/conf/spark"
    assert env["PYSPARK_PYTHON"] == env["PYSPARK_DRIVER_PYTHON"] == str(VENV_BIN / "python")
    assert env["PATH"].split(":") == [str(VENV_BIN), "/usr/bin"]
    assert env["HOME"] == "/h"


def test_overrides_win_over_the_stacks_values():
    env = spark_environment(Path("/conf"), {"SPARK_CONF_DIR": "/mine", "QUESTLOG_TOPIC": "t"})
    assert (env["SPARK_CONF_DIR"], env["QUESTLOG_TOPIC"]) == ("/mine", "t")


def test_the_command_puts_options_before_the_script_and_arguments_after():
    options = conf_options({"spark.ui.enabled": "false"})
    command = spark_submit_command("jobs/retention.py", "--show", "5", options=options)
    assert command == [
        str(VENV_BIN / "spark-submit"),
        "--conf",
        "spark.ui.enabled=false",
        "jobs/retention.py",
        "--show",
        "5",
    ]


def test_the_landing_service_runs_against_its_topologys_conf_and_clients(tmp_path):
    settings = StackSettings(stack_dir=tmp_path, kafka_port=19092)
    env = landing.spark_environment(settings)
    assert env["SPARK_CONF_DIR"] == str(tmp_path / "conf" / "spark")
    assert env["QUESTLOG_KAFKA_BOOTSTRAP"] == "localhost:19092"
    command = landing.landing_command(settings)
    assert command[0] == str(VENV_BIN / "spark-submit")
    assert command[-2:] == [
        str(Path(landing.REPO_ROOT) / "streaming" / "land_events.py"),
        "--service",
    ]
