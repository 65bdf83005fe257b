"""Settings of the ingest service: one frozen object, built from `QUESTLOG_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from runtime.settings import RuntimeSettings, env_overrides

# The shortest API key production accepts: 32 characters of `secrets.token_urlsafe(24)` carry
# 192 random bits, past guessing; `k1` or a word is not.
MIN_PRODUCTION_KEY_LENGTH = 32


@dataclass(frozen=True, kw_only=True)
class IngestSettings(RuntimeSettings):
    """Every knob of the service (Kafka and the lake: `RuntimeSettings`); each variable once."""

    # "development" (open when no keys are set) or "production" (refuses to start without
    # API keys, and with open seed routes).
    env: str = "development"
    # How long a request may wait for Kafka before it answers 503.
    publish_timeout_s: float = 2.0
    # How long the producer waits to fill a batch: more events per produce request cost the
    # producer's network thread less each, and add this much to a request's latency.
    publish_linger_ms: int = 2
    # Events sent to Kafka and not yet acknowledged, across all requests of a worker.
    max_in_flight_events: int = 20_000
    max_batch_events: int = 500
    max_body_bytes: int = 1_000_000
    # `key` (may send events) or `key=events:write+players:read` (scopes joined by `+`).
    api_keys: tuple[str, ...] = ()
    # "open" (as the seed), "key" (needs an API key) or "off" (404).
    seed_routes: str = "open"
    key_rate_per_s: float = 1000.0
    key_burst: int = 5000
    player_rate_per_s: float = 50.0
    player_burst: int = 500
    # GET /v1/players/<id> per API key (or client address when keys are off).
    player_read_rate_per_s: float = 20.0
    player_read_burst: int = 100
    # Buckets kept per limiter (per worker); the least recently used go past it.
    rate_limit_max_names: int = 100_000
    retry_after_s: int = 1
    # How long /readyz reuses the broker's last answer.
    probe_cache_s: float = 1.0
    player_state_refresh_s: float = 30.0
    # How long a player request waits for the marts when none were read yet, then 503.
    player_state_wait_s: float = 1.0
    # A read of the marts that has not finished after this long is abandoned for a new one.
    player_state_read_timeout_s: float = 60.0
    # Player reads get 503 once the last finished read of the marts is older than this.
    player_state_max_age_s: float = 600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> IngestSettings:
        """Defaults, overridden by whichever `QUESTLOG_<FIELD>` variables are set."""
        settings = cls(**env_overrides(cls, environ))
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ValueError for settings the service must not start with."""
        if self.seed_routes not in ("open", "key", "off"):
            raise ValueError("QUESTLOG_SEED_ROUTES must be open, key or off")
        if self.env not in ("development", "production"):
            raise ValueError("QUESTLOG_ENV must be development or production")
        if self.env == "production":
            if not self.api_keys:
                raise ValueError("QUESTLOG_ENV=production needs QUESTLOG_API_KEYS")
            for entry in self.api_keys:
                key = entry.partition("=")[0]
                if len(key) < MIN_PRODUCTION_KEY_LENGTH:
                    raise ValueError(
                        f"QUESTLOG_API_KEYS entry {key[:4]}...: production needs keys of at "
                        f"least {MIN_PRODUCTION_KEY_LENGTH} characters "
                        "(python -c 'import secrets; print(secrets.token_urlsafe(24))')"
                    )
            if self.seed_routes == "open":
                raise ValueError("QUESTLOG_ENV=production needs QUESTLOG_SEED_ROUTES=key or off")

    @property
    def is_open(self) -> bool:
        """Whether anyone may send and read without a key (local development only)."""
        return not self.api_keys


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    """How gunicorn serves the ingest service (ingest/gunicorn.conf.py)."""

    ingest_bind: str = "127.0.0.1:5000"
    # Measured on a 2-core machine (README, "Ingest serving").
    ingest_workers: int = 2
    ingest_threads: int = 16

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServingSettings:
        return cls(**env_overrides(cls, environ))

    @property
    def port(self) -> int:
        return int(self.ingest_bind.rsplit(":", 1)[1])
