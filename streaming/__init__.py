"""The landing job: Kafka `events` -> Parquet in the lake, bad records kept in quarantine."""
