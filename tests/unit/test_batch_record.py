from streaming.batch_record import BatchRecord, read_records


def test_a_batch_record_reads_back_from_its_line():
    record = BatchRecord(
        batch=3, input_rows=10, landed=7, quarantined=2, duplicates=1, consumer_lag={"events": 5}
    )
    assert BatchRecord.from_line(record.to_line()) == record


def test_lines_that_are_not_batch_records_are_skipped():
    text = "\n".join(
        [
            "2026-11-20 INFO query land_events started",
            '{"kind": "other", "batch": 1, "input_rows": 2}',
            "[1, 2]",
            BatchRecord(batch=0, input_rows=4, landed=4).to_line(),
            "{not json",
        ]
    )
    assert read_records(text) == [BatchRecord(batch=0, input_rows=4, landed=4)]
