"""The batch path in one Spark session: `spark-submit jobs/pipeline.py`.

Lands everything the topic holds (as `streaming/land_events.py --until-caught-up`), computes
every mart from one read of the events (as `jobs/run_marts.py`) and audits every committed
offset (as `streaming/audit.py`), one JVM and one session start for the three. Exits
non-zero when landing fails or the audit finds a gap; `make demo` runs it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from jobs.run_marts import compute_marts
from lake.session import spark_session
from lake.settings import LakeSettings
from runtime.marts import MARTS
from streaming import land_events
from streaming.audit import audit


def main(argv: list[str] | None = None) -> int:
    settings = LakeSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="spark-submit jobs/pipeline.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--hours", type=int, default=48, help="hours shown in the audit")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    spark = spark_session("questlog-pipeline", settings, catalog=True, python_tasks=True)
    landing = timed("land", land_events.land, spark, settings, land_events.parse_args([], settings))
    if landing != 0:
        spark.stop()
        return landing
    timed("marts", compute_marts, spark, settings, list(MARTS), settings.events_path, True)
    complete = timed("audit", audit, spark, settings, settings.topic, args.hours)
    spark.stop()
    return 0 if complete else 1


def timed(step: str, function, *args):
    """Run one step and print its wall time."""
    started = time.perf_counter()
    result = function(*args)
    print(f"{step}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
