"""The daily_active_players mart: `spark-submit jobs/daily_active_players.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("daily_active_players"))
