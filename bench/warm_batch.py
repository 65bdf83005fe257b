"""A landing batch into a lake with history: `spark-submit bench/warm_batch.py HISTORY DAYS
LAKE_ROOT TOPIC BATCH`.

Writes HISTORY synthetic events over DAYS days into LAKE_ROOT's `events` table, builds the key
index from them (as the landing job does for a lake landed before the index existed), then
lands TOPIC in batches of BATCH events in this session. Prints one JSON line: the index's
build time and each batch's record; the second batch is the warm one (the filter loaded, the
JVM warm).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from dataclasses import asdict, replace

from bench.synthetic_lake import synthetic_events
from lake.session import spark_session
from lake.settings import LakeSettings
from streaming import land_events
from streaming.batch_record import read_records
from streaming.sink import ensure_tables


def main() -> int:
    history, days, lake_root, topic, batch = sys.argv[1:6]
    settings = replace(LakeSettings.from_env(), lake_root=lake_root, topic=topic)
    spark = spark_session("questlog-bench-warm-batch", settings, python_tasks=True)
    started = time.perf_counter()
    rows = synthetic_events(spark, int(history), int(days)).repartition("event_date")
    rows.write.format("delta").partitionBy("event_date").save(settings.events_path)
    written = time.perf_counter()
    ensure_tables(spark, settings.events_path, settings.quarantine_path, settings.keys_path)
    indexed = time.perf_counter()
    args = land_events.parse_args(["--max-offsets-per-trigger", batch], settings)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = land_events.land(spark, settings, args)
    if code != 0:
        return code
    records = read_records(output.getvalue())
    print(
        json.dumps(
            {
                "history_events": int(history),
                "history_write_s": round(written - started, 1),
                "key_index_build_s": round(indexed - written, 1),
                "batches": [asdict(r) for r in records],
            }
        )
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
