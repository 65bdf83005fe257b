"""The ingest service under wrk: the seed's app, the seed route, single events and batches."""

from __future__ import annotations

import contextlib
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import metrics_cost, route_cost
from bench.ingest_load import (
    Scenario,
    gunicorn_master,
    py_spy_record,
    thread_kinds,
    threads_cpu_seconds,
    top_frames,
    workers_cpu_seconds,
    wrk_run,
)
from bench.payloads import client_events
from bench.run import NO_RATE_LIMITS, Mode, Run, figure
from bench.workspace import free_port
from ingest.settings import IngestSettings
from ingest.tokens import PlayerTokens
from stack.ingest_process import ingest_server

BATCH_EVENTS = 50
CONNECTIONS = 32  # the service's 2 workers x 16 threads, each kept busy (wrk -t2 -c32)
TOKEN_AUDIENCE, TOKEN_ISSUER = "questlog-bench", "https://auth.bench.example"


def player_token(run: Run, player_id: str) -> tuple[str, dict[str, str]]:
    """A player token for `player_id`, signed RS256 as a studio's auth service would sign
    it, and the settings that verify it (the public key in a PEM file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = run.ws.local / "auth.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    claims = {
        "sub": player_id,
        "aud": TOKEN_AUDIENCE,
        "iss": TOKEN_ISSUER,
        "exp": int(time.time()) + 24 * 3600,
    }
    settings = {
        "QUESTLOG_PLAYER_TOKEN_PUBLIC_KEY_FILE": str(pem),
        "QUESTLOG_PLAYER_TOKEN_AUDIENCE": TOKEN_AUDIENCE,
        "QUESTLOG_PLAYER_TOKEN_ISSUER": TOKEN_ISSUER,
    }
    return jwt.encode(claims, key, algorithm="RS256"), settings


def verification_us(token: str, settings: dict[str, str], calls: int = 2000) -> float:
    """Microseconds one player token's verification takes in this process, as the ingest
    service verifies it on each request (`ingest.tokens.PlayerTokens.player`)."""
    tokens = PlayerTokens.from_settings(IngestSettings.from_env(settings))
    tokens.player(token)  # the first call pays for imports and caches
    started = time.perf_counter()
    for _ in range(calls):
        tokens.player(token)
    return (time.perf_counter() - started) / calls * 1e6


def measure(run: Run) -> None:
    topic = run.ws.topic("ingest")
    single, batch = run.ws.local / "single.json", run.ws.local / "batch.json"
    purchases = [e for e in client_events(500) if e["event_type"] == "purchase"]
    single.write_text(json.dumps(purchases[0]))
    batch.write_text(json.dumps(client_events(BATCH_EVENTS, seed=11)))
    # A new player_id per request on the GET routes (bench/wrk/report.lua).
    sword = "/purchase_a_sword?player_id=player-1"
    # The service verifies player tokens; requests without one pass as before (no API keys).
    token, token_settings = player_token(run, purchases[0]["player_id"])
    scenarios = {
        "seed_app": Scenario(
            "seed's app GET /purchase_a_sword (fire-and-forget send)", "GET", sword, None, 1
        ),
        "seed_durable": Scenario(
            "seed's app made durable GET /purchase_a_sword (acks=all, send().get())",
            "GET",
            sword,
            None,
            1,
        ),
        "noop": Scenario("no-op Flask route, single event", "POST", "/v1/events", single, 1),
        "seed": Scenario("seed GET /purchase_a_sword", "GET", sword, None, 1),
        "seed_no_metrics": Scenario(
            "seed GET /purchase_a_sword, metrics made no-ops", "GET", sword, None, 1
        ),
        "single": Scenario("POST /v1/events, single event", "POST", "/v1/events", single, 1),
        "token": Scenario(
            "POST /v1/events, single event with a player token (RS256)",
            "POST",
            "/v1/events",
            single,
            1,
            (f"Authorization: Bearer {token}",),
        ),
        "batch": Scenario(
            f"POST /v1/events, {BATCH_EVENTS}-event batch", "POST", "/v1/events", batch, 50
        ),
    }
    env = {"QUESTLOG_TOPIC": topic, **NO_RATE_LIMITS, **token_settings}
    runs: dict[str, list[dict]] = {name: [] for name in scenarios}
    # The seed's app paced the same way: what the machine itself allows at 80 % of a peak.
    paced: dict[str, list[dict]] = {"seed_app": [], "seed": [], "single": []}
    # Each server: its app, the path that answers once it is ready, and whether it takes
    # the run's settings (topic, limits, tokens).
    servers = {
        "ingest": ("ingest:create_app()", "/readyz", True),
        "noop": ("bench.noop_app:create_app()", "/readyz", False),
        "seed_app": ("bench.seed_app:create_app()", "/", True),
        "seed_durable": ("bench.seed_app:create_durable_app()", "/", True),
        "seed_no_metrics": ("bench.no_metrics_app:create_app()", "/readyz", True),
    }
    ports = {name: free_port() for name in servers}
    with contextlib.ExitStack() as stack:
        served = {
            name: stack.enter_context(
                ingest_server(
                    ports[name],
                    env=env if with_settings else None,
                    log_path=run.ws.local / f"{name}.log",
                    app=app,
                    ready_path=ready_path,
                )
            )
            for name, (app, ready_path, with_settings) in servers.items()
        }
        urls = {name: served.get(name, served["ingest"]) for name in scenarios}
        run.step("ingest: warm-up")
        for name, scenario in scenarios.items():
            wrk_run(urls[name], scenario, CONNECTIONS, 2)
        # Alternating, so that a slower moment of the machine hits every scenario alike.
        for number in range(run.mode.repeats):
            for name, scenario in scenarios.items():
                run.step(f"ingest: {name} {number + 1}/{run.mode.repeats}")
                runs[name].append(wrk_run(urls[name], scenario, CONNECTIONS, run.mode.wrk_seconds))
                run.done(f"{scenario.name}: {runs[name][-1]}")
        paired = paired_rounds(run, served, ports, scenarios)
        for name in paced:
            for number in range(run.mode.repeats):
                run.step(f"ingest: {name} at 80 % of its peak {number + 1}/{run.mode.repeats}")
                paced[name].append(at_share_of_peak(run, urls[name], scenarios[name], runs[name]))
                run.done(f"{scenarios[name].name} at 80 %: {paced[name][-1]}")
        if run.mode.profile_seconds:
            run.details["ingest_profile"] = {
                name: profile(run, ports["ingest"], served["ingest"], scenarios[name])
                for name in ("single", "batch")
            }
    run.details["ingest"] = {
        "paired_rounds": paired,
        "paired_seconds": PAIRED_SECONDS,
        "connections": CONNECTIONS,
        "seconds_per_run": run.mode.wrk_seconds,
        "gunicorn": "2 workers x 16 threads (gthread), ingest/gunicorn.conf.py",
        "runs": runs,
        "at_80_percent_of_peak": paced,
    }
    kafka_python = [r["events_per_s"] for r in run.details["kafka"]["kafka_python"]]
    seed_app_name = scenarios["seed_app"].name

    def metric(name, key, source=runs):
        return [r[key] for r in source[name]]

    seed_app_paced = f"{seed_app_name}, at 80 % of its peak"
    run.figures += [
        figure("ingest", seed_app_name, "requests/s", metric("seed_app", "requests_per_s")),
        figure("ingest", seed_app_name, "p50 ms", metric("seed_app", "p50_ms")),
        figure("ingest", seed_app_name, "p99 ms", metric("seed_app", "p99_ms")),
        figure("ingest", seed_app_paced, "requests/s", metric("seed_app", "requests_per_s", paced)),
        figure("ingest", seed_app_paced, "p99 ms", metric("seed_app", "p99_ms", paced)),
        figure("ingest", scenarios["noop"].name, "requests/s", metric("noop", "requests_per_s")),
    ]
    for name in ("seed", "single"):
        label_ = scenarios[name].name
        run.figures += [
            figure(
                "ingest",
                label_,
                "requests/s",
                metric(name, "requests_per_s"),
                seed_app_name,
                metric("seed_app", "requests_per_s"),
            ),
            figure(
                "ingest",
                label_,
                "p50 ms",
                metric(name, "p50_ms"),
                seed_app_name,
                metric("seed_app", "p50_ms"),
                higher_is_better=False,
            ),
            figure("ingest", label_, "p99 ms", metric(name, "p99_ms")),
            figure(
                "ingest",
                f"{label_}, at 80 % of its peak",
                "requests/s",
                metric(name, "requests_per_s", paced),
            ),
            figure(
                "ingest",
                f"{label_}, at 80 % of its peak",
                "p99 ms",
                metric(name, "p99_ms", paced),
                seed_app_paced,
                metric("seed_app", "p99_ms", paced),
                higher_is_better=False,
            ),
            figure("ingest", label_, "errors", metric(name, "errors")),
        ]
    seed_name, durable_name = scenarios["seed"].name, scenarios["seed_durable"].name
    metrics_us = [metrics_cost.measure() for _ in range(run.mode.repeats)]
    run.details["ingest"]["metrics_us_per_request"] = metrics_us
    routes_us = [route_cost.measure() for _ in range(run.mode.repeats)]
    run.details["ingest"]["route_us_per_request"] = routes_us
    run.figures += [
        figure("ingest", durable_name, "requests/s", metric("seed_durable", "requests_per_s")),
        figure("ingest", durable_name, "p50 ms", metric("seed_durable", "p50_ms")),
        figure(
            "ingest",
            f"{seed_name}, against the durable seed app",
            "requests/s",
            metric("seed", "requests_per_s"),
            durable_name,
            metric("seed_durable", "requests_per_s"),
        ),
        figure(
            "ingest",
            f"{seed_name}, with its metrics against without",
            "requests/s",
            metric("seed", "requests_per_s"),
            scenarios["seed_no_metrics"].name,
            metric("seed_no_metrics", "requests_per_s"),
        ),
        figure(
            "ingest",
            "metrics of one seed request (multiprocess mode), queued and applied, in process",
            "µs",
            metrics_us,
        ),
        figure(
            "ingest",
            f"{seed_name}, its Python in process (WSGI calls, Kafka stood in for)",
            "µs",
            [r["seed"] for r in routes_us],
            f"{durable_name}, the same",
            [r["durable"] for r in routes_us],
            higher_is_better=False,
        ),
    ]
    run.figures += paired_figures(paired, seed_name, durable_name, scenarios)
    single_name, token_name = scenarios["single"].name, scenarios["token"].name
    verified = [verification_us(token, token_settings) for _ in range(run.mode.repeats)]
    run.details["ingest"]["token_verification_us"] = verified
    run.figures += [
        figure("ingest", "player token verification (PyJWT, RS256), in process", "µs", verified),
        figure(
            "ingest",
            token_name,
            "requests/s",
            metric("token", "requests_per_s"),
            single_name,
            metric("single", "requests_per_s"),
        ),
        figure(
            "ingest",
            token_name,
            "p50 ms",
            metric("token", "p50_ms"),
            single_name,
            metric("single", "p50_ms"),
            higher_is_better=False,
        ),
        figure("ingest", token_name, "p99 ms", metric("token", "p99_ms")),
        figure("ingest", token_name, "errors", metric("token", "errors")),
    ]
    batch_name = scenarios["batch"].name
    run.figures += [
        figure(
            "ingest",
            batch_name,
            "events/s",
            metric("batch", "events_per_s"),
            "kafka-python producer, ingest settings",
            kafka_python,
        ),
        figure("ingest", batch_name, "requests/s", metric("batch", "requests_per_s")),
        figure("ingest", batch_name, "p50 ms", metric("batch", "p50_ms")),
        figure("ingest", batch_name, "p99 ms", metric("batch", "p99_ms")),
        figure("ingest", batch_name, "errors", metric("batch", "errors")),
    ]


def at_share_of_peak(run: Run, url: str, scenario: Scenario, peak_runs: list[dict]) -> dict:
    """A wrk run paced to 80 % of the peak rate: each connection pauses between requests.

    wrk keeps each connection closed-loop, so the pause is the time per request at the
    target rate less the latency; one correction from a short probe run brings the
    achieved rate near the target (the figure reports the rate achieved).
    """
    target = 0.8 * sum(r["requests_per_s"] for r in peak_runs) / len(peak_runs)
    per_request_ms = CONNECTIONS * 1000 / target
    delay = max(per_request_ms - min(r["mean_ms"] for r in peak_runs), 0)
    probe = wrk_run(url, scenario, CONNECTIONS, 3, delay_ms=delay)
    delay = max(per_request_ms - probe["mean_ms"], 0)
    paced = wrk_run(url, scenario, CONNECTIONS, run.mode.wrk_seconds, delay_ms=delay)
    return {**paced, "target_per_s": target, "delay_ms": delay}


def profile(run: Run, port: int, url: str, scenario: Scenario) -> dict:
    """py-spy over the ingest's workers while wrk sends `scenario`: where the time goes."""
    run.step(f"ingest: py-spy, {scenario.name}")
    output = run.ws.local / f"py-spy-{scenario.events_per_request}.txt"
    sampler = py_spy_record(gunicorn_master(port), run.mode.profile_seconds, output)
    time.sleep(1)
    load = wrk_run(url, scenario, CONNECTIONS, run.mode.profile_seconds)
    sampler.wait(timeout=120)
    frames = top_frames(output.read_text() if output.exists() else "", count=25)
    run.done(f"py-spy, {scenario.name}: {frames['samples']} samples")
    return {"load_while_sampled": load, **frames}


# The seed route against its two baselines in paired rounds: the machine's speed drifts by
# more than the gap between them, so each round runs the three back to back and the figure is
# the median of the rounds' ratios. The order turns by one each round, so that each server
# runs first, second and third equally often; many short rounds make a steadier median than
# a few long ones.
PAIRED = ("seed_durable", "seed", "seed_no_metrics")
PAIRED_SECONDS = 4


def paired_round_count(mode: Mode) -> int:
    """Rounds of a run: a multiple of the servers' count, so the order turns fully."""
    return len(PAIRED) * 2 * mode.repeats


def paired_rounds(run: Run, served: dict, ports: dict, scenarios: dict) -> list[dict]:
    """Per round, per server of `PAIRED`: requests/s, and the workers' CPU (user and system),
    system CPU and CPU of each kind of thread (`thread_kind`) in ms per request."""
    servers = {
        "seed_durable": "seed_durable",
        "seed": "ingest",
        "seed_no_metrics": "seed_no_metrics",
    }
    # Read once the servers are warm: every request thread and producer is started.
    kinds = {name: thread_kinds(ports[server]) for name, server in servers.items()}
    rounds = []
    for number in range(paired_round_count(run.mode)):
        run.step(f"ingest: paired round {number + 1}")
        turn = number % len(PAIRED)
        order = PAIRED[turn:] + PAIRED[:turn]
        measured = {}
        for name in order:
            port = ports[servers[name]]
            user_before, system_before = workers_cpu_seconds(port)
            threads_before = threads_cpu_seconds(port, kinds[name])
            result = wrk_run(served[servers[name]], scenarios[name], CONNECTIONS, PAIRED_SECONDS)
            user, system = workers_cpu_seconds(port)
            threads = threads_cpu_seconds(port, kinds[name]) - threads_before
            user, system = user - user_before, system - system_before
            requests = result["requests_per_s"] * PAIRED_SECONDS
            measured[name] = {
                "requests_per_s": result["requests_per_s"],
                "cpu_ms_per_request": 1000 * (user + system) / requests if requests else None,
                "system_ms_per_request": 1000 * system / requests if requests else None,
                "cpu_ms_per_request_by_thread": {
                    kind: 1000 * seconds / requests if requests else None
                    for kind, seconds in threads.items()
                },
            }
        rounds.append(measured)
        run.done(f"paired round {number + 1}: {measured}")
    return rounds


def paired_figures(rounds: list[dict], seed_name: str, durable_name: str, scenarios) -> list:
    """The seed route's rate against the durable app's and its CPU per request against the
    durable app's and against no metrics', each round against itself."""

    def each(name: str, key: str) -> list[float]:
        return [r[name][key] for r in rounds]

    def by_thread(name: str, kind: str) -> list[float]:
        return [r[name]["cpu_ms_per_request_by_thread"].get(kind, 0.0) for r in rounds]

    rate_ratios = [
        r["seed"]["requests_per_s"] / r["seed_durable"]["requests_per_s"] for r in rounds
    ]
    no_metrics = scenarios["seed_no_metrics"].name
    return [
        figure(
            "ingest",
            f"{seed_name} over the durable seed app, requests/s, paired rounds of "
            f"{PAIRED_SECONDS} s (the rounds' ratios)",
            "x",
            rate_ratios,
        ),
        figure(
            "ingest",
            f"{seed_name}, workers' CPU per request, against the durable seed app",
            "ms",
            each("seed", "cpu_ms_per_request"),
            durable_name,
            each("seed_durable", "cpu_ms_per_request"),
            higher_is_better=False,
        ),
        figure(
            "ingest",
            f"{seed_name}, workers' system CPU per request, against the durable seed app",
            "ms",
            each("seed", "system_ms_per_request"),
            durable_name,
            each("seed_durable", "system_ms_per_request"),
            higher_is_better=False,
        ),
        *(
            figure(
                "ingest",
                f"{seed_name}, workers' CPU per request in {kind}, against the durable seed app",
                "ms",
                by_thread("seed", kind),
                durable_name,
                by_thread("seed_durable", kind),
                higher_is_better=False,
            )
            for kind in ("requests", "Kafka's network thread", "gunicorn's loop")
        ),
        figure(
            "ingest",
            f"{seed_name}, workers' CPU per request, with its metrics against without",
            "ms",
            each("seed", "cpu_ms_per_request"),
            no_metrics,
            each("seed_no_metrics", "cpu_ms_per_request"),
            higher_is_better=False,
        ),
    ]
