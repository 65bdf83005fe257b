"""The marts refreshed as the landing service refreshes them, in a session already running:
`spark-submit bench/warm_refresh.py EVENTS_PATH COUNT ROUNDS`.

In one session, ROUNDS times: every mart from every event (`--full`), then COUNT more events
appended (`bench/append_events.py`: a tenth of them late), then every mart refreshed from
what changed. No spark-submit's start is in either figure. Prints one JSON line: each round's
seconds, full and refreshed.
"""

from __future__ import annotations

import json
import sys
import time

from bench.append_events import append_events
from jobs.run_marts import compute_marts
from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.marts import MARTS


def main() -> int:
    events_path, count, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    settings = LakeSettings.from_env()
    spark = spark_session("questlog-bench-warm-refresh", settings, catalog=False)

    def marts_seconds(full: bool) -> float:
        started = time.perf_counter()
        compute_marts(spark, settings, list(MARTS), events_path, tables=False, full=full)
        return round(time.perf_counter() - started, 1)

    full, refreshed = [], []
    for _ in range(rounds):
        full.append(marts_seconds(full=True))
        append_events(spark, events_path, count)
        refreshed.append(marts_seconds(full=False))
    print(json.dumps({"full_seconds": full, "refreshed_seconds": refreshed}))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
