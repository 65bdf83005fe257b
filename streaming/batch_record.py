"""The landing job's record of one micro-batch: one JSON line on stdout, read back by
`make stream-status` and the benchmarks with `BatchRecord.from_line`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

RECORD_KIND = "landing_batch"


@dataclass(frozen=True, kw_only=True)
class BatchRecord:
    """What one micro-batch read, where each record went, and how long it took."""

    batch: int
    input_rows: int
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    # Dropped as a player's erased events (`streaming.erased`).
    erased: int = 0
    batch_ms: int = 0
    input_rows_per_s: float = 0.0
    processed_rows_per_s: float = 0.0
    consumer_lag: dict[str, int] = field(default_factory=dict)
    # Where the batch's time went, as Spark reports it (addBatch: the writes; walCommit and
    # commitOffsets: the checkpoint; latestOffset, getBatch, queryPlanning).
    durations_ms: dict[str, int] = field(default_factory=dict)

    def to_line(self) -> str:
        return json.dumps({"kind": RECORD_KIND, **asdict(self)})

    @classmethod
    def from_line(cls, line: str) -> BatchRecord | None:
        """The record a log line holds, or None for any other line."""
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def read_records(text: str) -> list[BatchRecord]:
    """Every batch record in a log's text, in order."""
    records = (BatchRecord.from_line(line) for line in text.splitlines())
    return [record for record in records if record is not None]
