"""Background processes of the stack: start, find, stop, and report their logs.

Every process is started in its own session with `-Dquestlog.service=<name>` and
`-Dquestlog.stack=<stack dir>` on its command line; its pid goes to `<stack>/pids/<name>.pid`
and its output to `<stack>/logs/<name>.log`. A pid counts as ours only while its command line
carries both tags, so a stale pid file reused by a stranger is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from stack.settings import StackSettings

STOP_GRACE_SECONDS = 30
POLL_SECONDS = 0.5
LOG_TAIL_LINES = 40


class StackError(Exception):
    """A stack command failed; the message says why."""


def pid_file(settings: StackSettings, name: str) -> Path:
    return settings.pids_dir / f"{name}.pid"


def log_file(settings: StackSettings, name: str) -> Path:
    return settings.logs_dir / f"{name}.log"


def tags(settings: StackSettings, name: str) -> list[str]:
    """The JVM system properties that mark a process as this stack's `name`."""
    return [f"-Dquestlog.service={name}", f"-Dquestlog.stack={settings.stack_dir}"]


def is_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _tagged(settings: StackSettings, name: str, pid: int) -> bool:
    try:
        arguments = set(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
    except OSError:
        return False
    return {tag.encode() for tag in tags(settings, name)} <= arguments and is_alive(pid)


def running_pid(settings: StackSettings, name: str) -> int | None:
    """The pid of our running process `name`, or None; a stale pid file is removed."""
    path = pid_file(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if pid and _tagged(settings, name, pid):
        return pid
    path.unlink(missing_ok=True)
    return None


def start(
    settings: StackSettings,
    name: str,
    command: list[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `command` in the background, logging to its log file; return its pid.

    The command line must carry tags(settings, name), either itself or after an exec (a
    launcher such as spark-class); this returns once it does.
    """
    for directory in (settings.logs_dir, settings.pids_dir, settings.data_dir):
        directory.mkdir(parents=True, exist_ok=True)
    with log_file(settings, name).open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n")
        log.flush()
        # A new session keeps the process alive after this command (or a Ctrl-C) ends.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd or settings.stack_dir,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    deadline = time.monotonic() + settings.stack_timeout
    while not _tagged(settings, name, process.pid):
        if process.poll() is not None:
            raise StackError(f"{name}: exited at start\n{log_report(settings, name)}")
        if time.monotonic() > deadline:
            raise StackError(f"{name}: did not start\n{log_report(settings, name)}")
        time.sleep(0.02)
    pid_file(settings, name).write_text(f"{process.pid}\n")
    return process.pid


def stop(settings: StackSettings, name: str, quiet: bool = False) -> None:
    """Stop a process: SIGTERM, then SIGKILL if it has not exited after the grace period."""
    pid = running_pid(settings, name)
    if pid is None:
        if not quiet:
            print(f"{name}: not running")
        return
    with contextlib.suppress(ProcessLookupError):
        # A stopped process (SIGSTOP) must run again to handle the SIGTERM.
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    if is_alive(pid):
        print(f"{name}: no exit after {STOP_GRACE_SECONDS} s, killing pid {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while is_alive(pid):
            time.sleep(0.1)
    # Reap it when this process started it (a test calling start() and stop()).
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    pid_file(settings, name).unlink(missing_ok=True)
    print(f"{name}: stopped (pid {pid})")


def log_report(settings: StackSettings, name: str) -> str:
    """The first error lines of the process's latest run, then the last lines of its log."""
    path = log_file(settings, name)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    # Every start appends a "=== ..." header; the latest run is what went wrong. Very long
    # lines are cut (Hadoop logs its whole classpath at startup).
    run = [line[:500] for line in text.split("\n=== ")[-1].splitlines()]
    tail = run[-LOG_TAIL_LINES:]
    # A failing JVM often logs pages of shutdown chatter after the actual error.
    errors = [
        line
        for line in run[:-LOG_TAIL_LINES]
        if " ERROR " in line or " FATAL " in line or line.startswith("Caused by:")
    ][:10]
    report = [f"--- first errors in {path}:", *errors] if errors else []
    return "\n".join([*report, f"--- last lines of {path}:", *tail])


def run_logged(settings: StackSettings, name: str, step: str, command: list[str]) -> None:
    """Run a one-off step (storage format) to completion, appending its output to the log."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with log_file(settings, name).open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        log.flush()
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise StackError(f"{name}: {step} failed\n{log_report(settings, name)}")
