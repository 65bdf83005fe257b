"""Settings of the ingest service: one frozen object, built from `QUESTLOG_*` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

from lake.settings import env_overrides


@dataclass(frozen=True, kw_only=True)
class IngestSettings:
    """Every knob of the service; each environment variable name is written once, below."""

    kafka_bootstrap: str = "localhost:9092"
    topic: str = "events"
    # How long a request may wait for Kafka before it answers 503.
    publish_timeout_s: float = 2.0
    # Events sent to Kafka and not yet acknowledged, across all requests of a worker.
    max_in_flight_events: int = 20_000
    max_batch_events: int = 500
    max_body_bytes: int = 1_000_000
    api_keys: tuple[str, ...] = ()
    # "open" (as the seed), "key" (needs an API key) or "off" (404).
    seed_routes: str = "open"
    key_rate_per_s: float = 1000.0
    key_burst: int = 5000
    player_rate_per_s: float = 50.0
    player_burst: int = 500
    retry_after_s: int = 1
    lake_root: str = "hdfs://localhost:9000/questlog"
    webhdfs_url: str = "http://localhost:9870"
    player_state_refresh_s: float = 30.0

    @classmethod
    def from_env(cls, environ=os.environ) -> IngestSettings:
        """Defaults, overridden by whichever `QUESTLOG_<FIELD>` variables are set."""
        settings = cls(**env_overrides(cls, environ))
        if settings.seed_routes not in ("open", "key", "off"):
            raise ValueError("QUESTLOG_SEED_ROUTES must be open, key or off")
        return settings
