"""The Spark schema of the stored envelope, derived from the JSON Schemas in the catalog."""

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from events.envelope import stored_fields

# Timestamps are read as strings and cast afterwards, so that every RFC 3339 form
# (offsets, any fraction of a second) parses the same way.
_SCALARS = {"string": StringType(), "number": DoubleType(), "integer": LongType()}
_SCALARS["boolean"] = BooleanType()


def _spark_type(field: dict) -> DataType:
    if field["type"] == "object":
        return StructType(
            [StructField(name, _spark_type(sub)) for name, sub in field["properties"].items()]
        )
    return _SCALARS[field["type"]]


def event_schema() -> StructType:
    """The stored envelope as a Spark struct; every field nullable, validation decides."""
    return _spark_type({"type": "object", "properties": stored_fields()})
