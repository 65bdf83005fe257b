"""The player_purchases mart in DuckDB's SQL, and a check that it gives Spark's numbers.

DuckDB reads the Delta tables through delta-rs (`deltalake`): the table's committed files as
an Arrow dataset, which DuckDB scans in place.
"""

from __future__ import annotations

import time
from pathlib import Path
from string import Template

import duckdb
from deltalake import DeltaTable

from events.shop import CURRENCY, SPENT_COLUMN

# jobs/marts.py `player_purchases`, column for column, on the same Parquet files.
PLAYER_PURCHASES_SQL = Template("""
WITH events AS (
    SELECT * FROM events_table
),
activity AS (
    SELECT player_id, count(DISTINCT event_date) AS active_days FROM events GROUP BY player_id
),
bought AS (
    SELECT player_id, event_ts, properties.item AS item, properties.quantity AS quantity,
           properties.currency AS currency, properties.price * properties.quantity AS amount
    FROM events WHERE event_type = 'purchase'
),
per_player AS (
    SELECT player_id, count(*) AS purchases, sum(quantity)::BIGINT AS items_bought,
           count(DISTINCT item) AS distinct_items,
           min(event_ts) AS first_purchase_at, max(event_ts) AS last_purchase_at
    FROM bought GROUP BY player_id
),
per_item AS (
    SELECT player_id, map_from_entries(list((item, quantity) ORDER BY item)) AS items
    FROM (SELECT player_id, item, sum(quantity)::BIGINT AS quantity FROM bought GROUP BY ALL)
    GROUP BY player_id
),
per_currency AS (
    SELECT player_id, map_from_entries(list((currency, amount) ORDER BY currency)) AS spent,
           sum(amount) FILTER (WHERE currency = '$currency') AS in_currency
    FROM (SELECT player_id, currency, sum(amount) AS amount FROM bought GROUP BY ALL)
    GROUP BY player_id
)
SELECT a.player_id,
       coalesce(purchases, 0) AS purchases,
       coalesce(items_bought, 0) AS items_bought,
       coalesce(items, MAP {}::MAP(VARCHAR, BIGINT)) AS items,
       coalesce(spent, MAP {}::MAP(VARCHAR, DOUBLE)) AS spent,
       coalesce(in_currency, 0.0) AS $spent,
       coalesce(distinct_items, 0) AS distinct_items,
       first_purchase_at, last_purchase_at, active_days
FROM activity a
LEFT JOIN per_player USING (player_id)
LEFT JOIN per_item USING (player_id)
LEFT JOIN per_currency USING (player_id)
""").substitute(currency=CURRENCY, spent=SPENT_COLUMN)

# Rows where the two marts differ in any figure; none is the pass.
DIFFERENCES_SQL = Template("""
SELECT count(*) FROM spark s FULL JOIN duck d USING (player_id)
WHERE s.player_id IS NULL OR d.player_id IS NULL
   OR s.purchases <> d.purchases OR s.items_bought <> d.items_bought
   OR abs(s.$spent - d.$spent) > 1e-6 OR s.distinct_items <> d.distinct_items
   OR s.active_days <> d.active_days
   OR s.first_purchase_at IS DISTINCT FROM d.first_purchase_at
   OR s.last_purchase_at IS DISTINCT FROM d.last_purchase_at
   OR list_sort(map_entries(s.items))::VARCHAR <> list_sort(map_entries(d.items))::VARCHAR
""").substitute(spent=SPENT_COLUMN)


def duckdb_player_purchases(events_dir: Path, out: Path) -> float:
    """Compute the mart with DuckDB into one Parquet file; the seconds it took."""
    started = time.perf_counter()
    with duckdb.connect() as db:
        db.register("events_table", DeltaTable(str(events_dir)).to_pyarrow_dataset())
        db.execute(f"COPY ({PLAYER_PURCHASES_SQL}) TO '{out}' (FORMAT parquet)")
    return time.perf_counter() - started


def compare_marts(spark_mart_dir: Path, duckdb_mart: Path) -> dict:
    """Players, purchase totals and differing rows of the Spark mart against DuckDB's."""
    with duckdb.connect() as db:
        db.register("spark", DeltaTable(str(spark_mart_dir)).to_pyarrow_dataset())
        db.execute(f"CREATE VIEW duck AS SELECT * FROM read_parquet('{duckdb_mart}')")
        totals = "SELECT count(*), sum(purchases), round(sum(" + SPENT_COLUMN + "), 2) FROM {}"
        spark_totals = db.execute(totals.format("spark")).fetchone()
        duck_totals = db.execute(totals.format("duck")).fetchone()
        differing = db.execute(DIFFERENCES_SQL).fetchone()[0]
    return {
        "players": spark_totals[0],
        "purchases": spark_totals[1],
        SPENT_COLUMN: spark_totals[2],
        "duckdb_players": duck_totals[0],
        "duckdb_purchases": duck_totals[1],
        f"duckdb_{SPENT_COLUMN}": duck_totals[2],
        "differing_rows": differing,
        "same": differing == 0 and spark_totals == duck_totals,
    }
