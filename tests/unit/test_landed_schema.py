"""The landed tables' schemas come from the landing transforms; writers of landed rows use them."""

from __future__ import annotations

from bench.synthetic_lake import synthetic_events
from events.shop import SHOP
from streaming.landed import landed_events_schema, quarantine_schema
from streaming.transforms import KAFKA_LINEAGE


def test_the_events_table_has_the_envelope_lineage_and_event_date(spark):
    names = landed_events_schema(spark).fieldNames()
    assert names[:2] == ["event_id", "event_type"]
    assert set(KAFKA_LINEAGE) <= set(names)
    assert names[-1] == "event_date"


def test_the_quarantine_keeps_the_raw_value_and_its_reason(spark):
    assert quarantine_schema(spark).fieldNames()[:2] == ["raw_value", "reason"]


def test_synthetic_lake_rows_have_the_landed_schema_and_shop_prices(spark):
    rows = synthetic_events(spark, 500)
    # Names, order and types; which columns may be null is the writer's own.
    assert rows.schema.simpleString() == landed_events_schema(spark).simpleString()
    bought = rows.where("event_type = 'purchase'").select("properties.*").collect()
    assert bought
    for row in bought:
        assert (row.price, row.currency) == (SHOP[row.item].price, SHOP[row.item].currency)
