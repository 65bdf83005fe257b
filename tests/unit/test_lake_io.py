"""What `lake.io` reads from a Delta table's log, on a local table."""

from __future__ import annotations

import pytest

from lake.io import HISTORY_PAGE, appended_rows, table_version


@pytest.fixture
def table(spark, tmp_path):
    """A Delta table whose version v >= 1 is an append of v rows, then one DELETE commit."""
    path = str(tmp_path / "table")
    spark.range(0).write.format("delta").save(path)
    for rows in range(1, 2 * HISTORY_PAGE + 2):
        spark.range(rows).write.format("delta").mode("append").save(path)
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id = 0")
    return path


def test_appended_rows_counts_only_the_appends_after_a_version(spark, table):
    newest = table_version(spark, table)
    last_append = newest - 1
    assert appended_rows(spark, table, after=newest) == 0
    # The DELETE after the last append is no append.
    assert appended_rows(spark, table, after=last_append) == 0
    assert appended_rows(spark, table, after=last_append - 1) == last_append
    assert appended_rows(spark, table, after=last_append - 3) == sum(
        range(last_append - 2, last_append + 1)
    )


def test_appended_rows_reads_back_past_its_first_page_of_commits(spark, table):
    last_append = table_version(spark, table) - 1
    # More commits than one page: the whole history since the table's creation.
    assert appended_rows(spark, table, after=0) == sum(range(1, last_append + 1))
    assert appended_rows(spark, table, after=2) == sum(range(3, last_append + 1))
