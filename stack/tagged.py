"""Run a program that takes no `-D` options (Prometheus, the Pushgateway) under the stack's tags.

    python -m stack.tagged -Dquestlog.service=<name> -Dquestlog.stack=<dir> -- <program> [args]

The tags mark this parent's command line (stack.processes finds and stops processes by them);
the program runs as its child, gets the signals this process gets and dies with it, and its
exit status is this process's.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: be killed when the launcher dies, even by SIGKILL."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    program = argv[argv.index("--") + 1 :]
    child = subprocess.Popen(program, preexec_fn=_die_with_parent)  # noqa: PLW1509

    def forward(signum, _frame) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
