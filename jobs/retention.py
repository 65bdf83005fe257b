"""The retention mart: `spark-submit jobs/retention.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("retention"))
