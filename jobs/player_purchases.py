"""The player_purchases mart: `spark-submit jobs/player_purchases.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("player_purchases"))
