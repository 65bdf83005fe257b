"""The player_inventory mart: `spark-submit jobs/player_inventory.py --help`."""

import sys

from jobs.entry import run_mart

if __name__ == "__main__":
    sys.exit(run_mart("player_inventory"))
