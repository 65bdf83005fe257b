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
import time
from pathlib import Path

from stack import processes
from stack.processes import StackError, log_file, running_pid, tags
from stack.services import VENV_BIN
from stack.settings import REPO_ROOT, StackSettings

LANDING = "landing"
SUPERVISOR = "landing-supervisor"
BACKOFF_S = (5, 10, 20, 40, 60)
HEALTHY_RUN_S = 120
BATCH_PREFIX = '{"query": "land_events"'


def state_file(settings: StackSettings) -> Path:
    return settings.pids_dir / f"{SUPERVISOR}.json"


def spark_environment(settings: StackSettings) -> dict[str, str]:
    """The environment of a spark-submit against this topology."""
    return {
        **os.environ,
        **settings.client_environment(),
        "PYSPARK_PYTHON": str(VENV_BIN / "python"),
        "PYSPARK_DRIVER_PYTHON": str(VENV_BIN / "python"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }


def landing_command(settings: StackSettings) -> list[str]:
    """spark-submit of the landing job in service mode, tagged like the other services."""
    command = [str(VENV_BIN / "spark-submit"), "--driver-java-options"]
    command.append(" ".join(tags(settings, LANDING)))
    if settings.spark_master_url:
        # One core: the other worker stays free for the marts.
        command += ["--total-executor-cores", "1"]
    return [*command, str(REPO_ROOT / "streaming" / "land_events.py"), "--service"]


def write_state(settings: StackSettings, **state) -> None:
    path = state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({**state, "updated": time.strftime("%H:%M:%S")}))
    temporary.replace(path)


def supervise(settings: StackSettings) -> None:
    """Run the landing job until SIGTERM, restarting it with back-off whenever it exits."""
    stopping = False

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    restarts, failures, last_exit = 0, 0, None
    while not stopping:
        started = time.monotonic()
        pid = processes.start(
            settings, LANDING, landing_command(settings), spark_environment(settings), REPO_ROOT
        )
        write_state(settings, state="running", pid=pid, restarts=restarts, last_exit=last_exit)
        while not stopping:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                last_exit = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.5)
        if stopping:
            break
        processes.pid_file(settings, LANDING).unlink(missing_ok=True)
        failures = 0 if time.monotonic() - started > HEALTHY_RUN_S else failures
        wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
        failures += 1
        restarts += 1
        log_line(settings, f"exited with {last_exit}; restart {restarts} in {wait} s")
        write_state(
            settings, state=f"waiting {wait} s to restart", restarts=restarts, last_exit=last_exit
        )
        deadline = time.monotonic() + wait
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.5)
    processes.stop(settings, LANDING, quiet=True)
    write_state(settings, state="stopped", restarts=restarts, last_exit=last_exit)


def log_line(settings: StackSettings, text: str) -> None:
    with log_file(settings, LANDING).open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {text}\n")


def start(settings: StackSettings) -> None:
    """Start the supervisor (which starts the landing job) unless it runs already."""
    pid = running_pid(settings, SUPERVISOR)
    if pid is not None:
        print(f"{SUPERVISOR}: already running (pid {pid})")
        return
    command = [str(VENV_BIN / "python"), "-m", "stack.landing", "supervise"]
    command += ["--topology", settings.topology, *tags(settings, SUPERVISOR)]
    state_file(settings).unlink(missing_ok=True)
    pid = processes.start(settings, SUPERVISOR, command, None, REPO_ROOT)
    deadline = time.monotonic() + settings.stack_timeout
    while running_pid(settings, LANDING) is None:
        if running_pid(settings, SUPERVISOR) is None:
            raise StackError(f"{SUPERVISOR}: exited\n{processes.log_report(settings, SUPERVISOR)}")
        if time.monotonic() > deadline:
            raise StackError(f"{LANDING}: did not start\n{processes.log_report(settings, LANDING)}")
        time.sleep(0.2)
    print(f"{LANDING}: supervised (pid {pid}); batches log to {log_file(settings, LANDING)}")


def stop(settings: StackSettings) -> None:
    """Stop the supervisor (it stops the job), and a job left without one."""
    processes.stop(settings, SUPERVISOR)
    processes.stop(settings, LANDING, quiet=True)


def latest_batch(settings: StackSettings) -> dict | None:
    """The landing job's newest batch record in its log, or None."""
    try:
        lines = log_file(settings, LANDING).read_text(errors="replace").splitlines()
    except OSError:
        return None
    batches = [line for line in lines if line.startswith(BATCH_PREFIX)]
    return json.loads(batches[-1]) if batches else None


def status(settings: StackSettings) -> None:
    """The supervisor's state, restarts and last exit, the job's pid and its latest batch."""
    supervisor = running_pid(settings, SUPERVISOR)
    job = running_pid(settings, LANDING)
    try:
        state = json.loads(state_file(settings).read_text())
    except (OSError, ValueError):
        state = {}
    print(f"{SUPERVISOR:<19} {f'running (pid {supervisor})' if supervisor else 'stopped'}")
    print(f"{LANDING:<19} {f'running (pid {job})' if job else 'stopped'}")
    if state:
        print(
            f"state: {state.get('state')}, restarts: {state.get('restarts', 0)}, "
            f"last exit: {state.get('last_exit')} (at {state.get('updated')})"
        )
    batch = latest_batch(settings)
    if batch:
        print(f"latest batch: {json.dumps(batch)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.landing")
    parser.add_argument("command", choices=["supervise"])
    parser.add_argument("--topology", default="single")
    # The process tags (-Dquestlog.*) follow; they only mark the command line.
    args, _ = parser.parse_known_args(argv)
    supervise(StackSettings.from_env(topology=args.topology))
    return 0


if __name__ == "__main__":
    sys.exit(main())
