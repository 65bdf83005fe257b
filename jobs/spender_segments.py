"""The spender_segments mart: `spark-submit jobs/spender_segments.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("spender_segments"))
