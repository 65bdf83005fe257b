"""Settings of the ingest service: one frozen object, built from `QUESTLOG_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_network

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
    # producer's network thread less each, and add up to this much to a request's latency.
    # 5 ms is the Java producer's default since Kafka 4.0 (KIP-1030); measured here against
    # 2 and 10 in docs/benchmarks.md.
    publish_linger_ms: int = 5
    # Where a partition's batch of one-event requests closes, and goes before the linger ends;
    # 0: a partition's share of a worker's threads, 400 bytes an event (Kafka's 16 KB when the
    # share is one event)
    # (ingest/publisher.py; measured against Kafka's 16 KB in docs/benchmarks.md).
    publish_single_batch_bytes: int = 0
    # Events sent to Kafka and not yet acknowledged, across all requests of a worker.
    max_in_flight_events: int = 20_000
    max_batch_events: int = 500
    max_body_bytes: int = 1_000_000
    # `key` (may send events) or `key=events:write:any+players:read` (scopes joined by `+`):
    # `events:write:any` is a server's key (any player), `events:write` a client's key, which
    # production refuses unless `allow_unbound_client_keys` (clients send player tokens).
    api_keys: tuple[str, ...] = ()
    allow_unbound_client_keys: bool = False
    # Player tokens (JWTs of the studio's auth service): its public key (PEM) or JWKS file,
    # and the audience, issuer and algorithms a token must have. Off when neither file is set.
    player_token_public_key_file: str = ""
    player_token_jwks_file: str = ""
    player_token_audience: str = ""
    player_token_issuer: str = ""
    player_token_algorithms: tuple[str, ...] = ("RS256", "ES256")
    # "open" (as the seed), "key" (needs an API key) or "off" (404).
    seed_routes: str = "open"
    # Events per second of a sender: a server key, a player token's player, or a client key's
    # client address (clients sharing a key do not share its bucket).
    key_rate_per_s: float = 1000.0
    key_burst: int = 5000
    # Events per second of one client address, for player tokens and client keys (not for
    # servers' keys); behind a carrier's NAT many players share one.
    address_rate_per_s: float = 500.0
    address_burst: int = 2500
    # Proxies (addresses or networks) whose X-Forwarded-For names the client; from anyone
    # else the header is ignored, so a client cannot choose the address it is limited by.
    trusted_proxies: tuple[str, ...] = ()
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
    # How often the player endpoint reads the marts and the events landed since again; a mart
    # with no newer version costs only a read of its log (`MartFiles.table`), and only the
    # events of commits not read before are read (`EventChanges`).
    player_state_refresh_s: float = 2.0
    # How long a player request waits for the marts when none were read yet, then 503.
    player_state_wait_s: float = 1.0
    # host:port of the ops port: metrics, readiness with its detail and the OpenAPI document,
    # bound apart from the public port, which then answers only the API and the probes'
    # status. Empty: the ops routes answer on the public port (development only).
    ops_bind: str = ""
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
        for proxy in self.trusted_proxies:
            try:
                ip_network(proxy, strict=False)
            except ValueError as error:
                raise ValueError(f"QUESTLOG_TRUSTED_PROXIES: {error}") from None
        tokens = self.player_token_public_key_file or self.player_token_jwks_file
        if tokens and not (self.player_token_audience and self.player_token_issuer):
            raise ValueError(
                "player tokens need QUESTLOG_PLAYER_TOKEN_AUDIENCE and "
                "QUESTLOG_PLAYER_TOKEN_ISSUER: a token for another service must not pass"
            )
        if any(
            alg.upper().startswith("HS") or alg == "none" for alg in self.player_token_algorithms
        ):
            raise ValueError("QUESTLOG_PLAYER_TOKEN_ALGORITHMS takes public-key algorithms only")
        if self.env == "production":
            if not self.api_keys:
                raise ValueError("QUESTLOG_ENV=production needs QUESTLOG_API_KEYS")
            for entry in self.api_keys:
                key, _, scopes = entry.partition("=")
                unbound = not scopes or "events:write" in scopes.split("+")
                if unbound and not self.allow_unbound_client_keys:
                    raise ValueError(
                        f"QUESTLOG_API_KEYS entry {key[:4]}...: a client key may send for any "
                        "player; give game clients player tokens (QUESTLOG_PLAYER_TOKEN_*) "
                        "and servers the events:write:any scope, or, while clients move, set "
                        "QUESTLOG_ALLOW_UNBOUND_CLIENT_KEYS=true"
                    )
                if len(key) < MIN_PRODUCTION_KEY_LENGTH:
                    raise ValueError(
                        f"QUESTLOG_API_KEYS entry {key[:4]}...: production needs keys of at "
                        f"least {MIN_PRODUCTION_KEY_LENGTH} characters "
                        "(python -c 'import secrets; print(secrets.token_urlsafe(24))')"
                    )
            if self.seed_routes == "open":
                raise ValueError("QUESTLOG_ENV=production needs QUESTLOG_SEED_ROUTES=key or off")
            if not self.ops_bind:
                raise ValueError(
                    "QUESTLOG_ENV=production needs QUESTLOG_OPS_BIND (host:port of the ops "
                    "port: metrics, readiness detail, OpenAPI), apart from the public port"
                )

    @property
    def ops_port(self) -> int | None:
        """The port of `ops_bind`, or None when the ops routes share the public port."""
        return int(self.ops_bind.rsplit(":", 1)[1]) if self.ops_bind else None

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
