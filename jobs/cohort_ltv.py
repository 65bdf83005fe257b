"""The cohort_ltv mart: `spark-submit jobs/cohort_ltv.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("cohort_ltv"))
