"""The daily_item_sales mart: `spark-submit jobs/daily_item_sales.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("daily_item_sales"))
