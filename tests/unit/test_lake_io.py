"""What `lake.io` and `lake.files` read from a Delta table's log, on a local table."""

from __future__ import annotations

import pytest

from lake.files import Commit, last_commit
from lake.io import HISTORY_PAGE, tagged_commit_rows

# Delta tables written by Spark: the stack's Delta jars.
pytestmark = pytest.mark.tools


@pytest.fixture
def table(spark, tmp_path):
    """A Delta table: appends of 1, 2, ... rows tagged "append 1", "append 2", ..., more of
    them than one page of history, then one untagged append of 100 rows."""
    path = str(tmp_path / "table")
    for rows in range(1, HISTORY_PAGE + 3):
        spark.range(rows).write.format("delta").mode("append").option(
            "userMetadata", f"append {rows}"
        ).save(path)
    spark.range(100).write.format("delta").mode("append").save(path)
    return path


def test_tagged_commit_rows_reads_the_rows_of_the_commit_with_that_tag(spark, table):
    newest = HISTORY_PAGE + 2
    assert tagged_commit_rows(table, f"append {newest}") == newest
    assert tagged_commit_rows(table, f"append {newest - 3}") == newest - 3


def test_tagged_commit_rows_is_zero_for_a_tag_no_newest_commit_has(spark, table):
    assert tagged_commit_rows(table, "no such commit") == 0
    # Older than the newest page of commits: not read.
    assert tagged_commit_rows(table, "append 1") == 0


def test_last_commit_reads_the_newest_commits_version_and_rows_from_the_log(spark, tmp_path):
    path = str(tmp_path / "mart")
    spark.range(5).write.format("delta").save(path)
    assert last_commit(path) == Commit(version=0, rows=5)
    spark.range(3).write.format("delta").mode("overwrite").save(path)
    assert last_commit(path) == Commit(version=1, rows=3)


def test_last_commit_of_a_replace_where_counts_the_rows_written_not_those_copied(spark, tmp_path):
    path = str(tmp_path / "daily")
    days = spark.range(9).selectExpr("id % 3 AS day", "id AS value")
    days.write.format("delta").save(path)
    one_day = spark.range(1).selectExpr("1L AS day", "99L AS value")
    one_day.write.format("delta").mode("overwrite").option("replaceWhere", "day = 1").save(path)
    assert last_commit(path) == Commit(version=1, rows=1)
