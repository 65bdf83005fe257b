"""The daily_kpis mart: `spark-submit jobs/daily_kpis.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("daily_kpis"))
