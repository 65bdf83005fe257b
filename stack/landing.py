"""The landing job as a supervised background service (`make stream`).

`start` launches a supervisor in its own session; the supervisor runs
`spark-submit streaming/land_events.py --service` and, whenever the job exits, starts it
again after a back-off (5 s, doubling up to 60 s; back to 5 s once a run lasted 2 minutes).
Its state (running or waiting, restarts, the last exit) is kept in
`<stack>/pids/landing-supervisor.json`, which `status` prints with the latest batch.

    python -m stack.landing supervise [--topology cluster]     (what `start` runs)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from runtime.settings import VENV_BIN
from runtime.spark_submit import spark_environment as submit_environment
from runtime.spark_submit import spark_submit_command
from stack import processes, prometheus
from stack.processes import StackError, log_file, running_pid, tags
from stack.settings import REPO_ROOT, StackSettings
from streaming.batch_record import BatchRecord, read_records

LANDING = "landing"
SUPERVISOR = "landing-supervisor"
BACKOFF_S = (5, 10, 20, 40, 60)
HEALTHY_RUN_S = 120


def state_file(settings: StackSettings) -> Path:
    return settings.pids_dir / f"{SUPERVISOR}.json"


def spark_environment(settings: StackSettings) -> dict[str, str]:
    """The environment of a spark-submit against this topology."""
    return submit_environment(settings.spark_conf_dir, settings.client_environment())


def landing_command(settings: StackSettings) -> list[str]:
    """spark-submit of the landing job in service mode, tagged like the other services."""
    options = ["--driver-java-options", " ".join(tags(settings, LANDING))]
    if settings.spark_master_url:
        # One core: the other worker stays free for the marts.
        options += ["--total-executor-cores", "1"]
    script = REPO_ROOT / "streaming" / "land_events.py"
    return spark_submit_command(script, "--service", options=options)


def write_state(settings: StackSettings, **state) -> None:
    path = state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({**state, "updated": time.strftime("%H:%M:%S")}))
    temporary.replace(path)


def supervise(
    settings: StackSettings,
    stop: threading.Event,
    overrides: dict[str, str] | None = None,
    backoff_s: tuple[float, ...] = BACKOFF_S,
) -> None:
    """Run the landing job until `stop` is set, restarting it with back-off whenever it exits.

    `overrides` are environment variables of the job that win over the topology's (another
    topic or lake root, say)."""
    restarts, failures, last_exit = 0, 0, None
    while not stop.is_set():
        started = time.monotonic()
        try:
            pid = processes.start(
                settings,
                LANDING,
                landing_command(settings),
                {**spark_environment(settings), **(overrides or {})},
                REPO_ROOT,
            )
        except StackError:  # it exited before it showed its tags: a failed run like any other
            pid, last_exit = None, "exited at start"
        if pid is not None:
            write_state(settings, state="running", pid=pid, restarts=restarts, last_exit=last_exit)
        while pid is not None and not stop.is_set():
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (subprocess cleans up after Popen)
                done, status = pid, None
            if done:
                last_exit = None if status is None else os.waitstatus_to_exitcode(status)
                break
            stop.wait(0.5)
        if stop.is_set():
            break
        processes.pid_file(settings, LANDING).unlink(missing_ok=True)
        failures = 0 if time.monotonic() - started > HEALTHY_RUN_S else failures
        wait = backoff_s[min(failures, len(backoff_s) - 1)]
        failures += 1
        restarts += 1
        log_line(settings, f"exited with {last_exit}; restart {restarts} in {wait} s")
        write_state(
            settings, state=f"waiting {wait} s to restart", restarts=restarts, last_exit=last_exit
        )
        stop.wait(wait)
    processes.stop(settings, LANDING, quiet=True)
    write_state(settings, state="stopped", restarts=restarts, last_exit=last_exit)


def log_line(settings: StackSettings, text: str) -> None:
    with log_file(settings, LANDING).open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {text}\n")


def start(settings: StackSettings, overrides: dict[str, str] | None = None) -> None:
    """Start the supervisor (which starts the landing job) unless it runs already."""
    pid = running_pid(settings, SUPERVISOR)
    if pid is not None:
        print(f"{SUPERVISOR}: already running (pid {pid})")
        return
    command = [str(VENV_BIN / "python"), "-m", "stack.landing", "supervise"]
    command += ["--topology", settings.topology]
    command += [f"--env={name}={value}" for name, value in (overrides or {}).items()]
    command += tags(settings, SUPERVISOR)
    state_file(settings).unlink(missing_ok=True)
    pid = processes.start(settings, SUPERVISOR, command, None, REPO_ROOT)
    deadline = time.monotonic() + settings.stack_timeout
    while running_pid(settings, LANDING) is None:
        if running_pid(settings, SUPERVISOR) is None:
            raise StackError(f"{SUPERVISOR}: exited\n{processes.log_report(settings, SUPERVISOR)}")
        if time.monotonic() > deadline:
            raise StackError(f"{LANDING}: did not start\n{processes.log_report(settings, LANDING)}")
        time.sleep(0.2)
    bind = (overrides or {}).get("QUESTLOG_LANDING_METRICS_BIND")
    bind = bind or settings.client_environment()["QUESTLOG_LANDING_METRICS_BIND"]
    prometheus.list_target(settings, LANDING, bind)
    print(f"{LANDING}: supervised (pid {pid}); batches log to {log_file(settings, LANDING)}")


def stop(settings: StackSettings) -> None:
    """Stop the supervisor (it stops the job), and a job left without one."""
    processes.stop(settings, SUPERVISOR)
    processes.stop(settings, LANDING, quiet=True)
    prometheus.unlist_target(settings, LANDING)


def batches(settings: StackSettings) -> list[BatchRecord]:
    """The landing job's batch records in its log, oldest first."""
    try:
        return read_records(log_file(settings, LANDING).read_text(errors="replace"))
    except OSError:
        return []


def read_state(settings: StackSettings) -> dict:
    """The supervisor's last written state ({} when it never ran)."""
    try:
        return json.loads(state_file(settings).read_text())
    except (OSError, ValueError):
        return {}


def status(settings: StackSettings) -> None:
    """The supervisor's state, restarts and last exit, the job's pid and its latest batch."""
    supervisor = running_pid(settings, SUPERVISOR)
    job = running_pid(settings, LANDING)
    state = read_state(settings)
    print(f"{SUPERVISOR:<19} {f'running (pid {supervisor})' if supervisor else 'stopped'}")
    print(f"{LANDING:<19} {f'running (pid {job})' if job else 'stopped'}")
    if state:
        print(
            f"state: {state.get('state')}, restarts: {state.get('restarts', 0)}, "
            f"last exit: {state.get('last_exit')} (at {state.get('updated')})"
        )
    logged = batches(settings)
    if logged:
        print(f"latest batch: {logged[-1].to_line()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.landing")
    parser.add_argument("command", choices=["supervise"])
    parser.add_argument("--topology", default="single")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    # The process tags (-Dquestlog.*) follow; they only mark the command line.
    args, _ = parser.parse_known_args(argv)
    overrides = dict(item.split("=", 1) for item in args.env)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    supervise(StackSettings.from_env(topology=args.topology), stop, overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
