import json
import threading
import time

from prometheus_client import Counter, Gauge, Histogram

from ingest import create_app, metrics
from ingest.openapi import render
from ingest.ops import OPENAPI_PATH
from ingest.settings import IngestSettings


def test_healthz_answers_while_kafka_is_down(client, publisher):
    publisher.available = False
    assert client.get("/healthz").status_code == 200


def test_readyz_follows_the_broker(client, publisher):
    assert client.get("/readyz").status_code == 200
    publisher.available = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"


def metric(text: str, sample: str) -> float:
    """The value of one sample (name and labels, as exposed) in a /metrics text; 0 if absent."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_count_requests_and_events(publisher):
    # Metrics text fresh on every scrape, not reused for a second.
    client = create_app(
        {"SETTINGS": IngestSettings(probe_cache_s=0), "PUBLISHER": publisher}
    ).test_client()
    samples = [
        'questlog_events_accepted_total{event_type="level_up"}',
        'questlog_events_rejected_total{event_type="level_up",reason="invalid"}',
        'questlog_http_requests_total{method="POST",route="/v1/events",status="202"}',
        'questlog_http_requests_total{method="POST",route="/v1/events",status="400"}',
    ]
    # The registry lives as long as the process: count what these requests add.
    before = client.get("/metrics").get_data(as_text=True)
    client.post(
        "/v1/events",
        json={"event_type": "level_up", "player_id": "p", "properties": {"level": 2}},
    )
    client.post("/v1/events", json={"event_type": "level_up", "player_id": "p"})
    after = client.get("/metrics").get_data(as_text=True)
    added = [metric(after, sample) - metric(before, sample) for sample in samples]
    assert added == [1, 1, 1, 1]


def test_updates_queued_by_many_threads_are_all_applied_before_a_read():
    counter = Counter("questlog_test_updates_total", "updates", ["thread"], registry=None)
    queued = metrics.Deferred(counter)

    def record(name: str) -> None:
        for _ in range(500):
            queued.labels(name).inc()

    threads = [threading.Thread(target=record, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metrics.applied()
    assert [counter.labels(f"t{i}")._value.get() for i in range(8)] == [500] * 8


def test_queued_counts_are_summed_a_gauge_keeps_its_last_value_and_each_observation_counts():
    counter = Counter("questlog_test_summed_total", "updates", ["kind"], registry=None)
    gauge = Gauge("questlog_test_last", "last value", registry=None)
    histogram = Histogram("questlog_test_seconds", "observed", buckets=(1, 10), registry=None)
    for amount in (1, 2, 4):
        metrics.Deferred(counter).labels("a").inc(amount)
    metrics.Deferred(counter).labels("b").inc()
    for value in (5, 7, 3):
        metrics.Deferred(gauge).set(value)
    for value in (0.5, 0.5, 20):
        metrics.Deferred(histogram).observe(value)
    metrics.applied()
    assert counter.labels("a")._value.get() == 7
    assert counter.labels("b")._value.get() == 1
    assert gauge._value.get() == 3
    buckets = {s.labels["le"]: s.value for s in histogram.collect()[0].samples if "le" in s.labels}
    assert buckets == {"1.0": 2, "10.0": 2, "+Inf": 3}


def test_queued_updates_are_applied_with_no_read():
    counter = Counter("questlog_test_unread_total", "updates", registry=None)
    metrics.Deferred(counter).inc(3)
    deadline = time.monotonic() + 20 * metrics.APPLY_EVERY_S
    while counter._value.get() != 3 and time.monotonic() < deadline:
        time.sleep(metrics.APPLY_EVERY_S / 5)
    assert counter._value.get() == 3


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz", headers={"X-Request-Id": "abc"})
    assert response.headers["X-Request-Id"] == "abc"
    assert len(client.get("/healthz").headers["X-Request-Id"]) == 32


def test_the_openapi_document_in_the_repo_is_the_one_built_from_the_catalog():
    assert OPENAPI_PATH.read_text() == render()


def test_openapi_json_is_served_and_names_every_route(client, app):
    document = client.get("/openapi.json").json
    documented = set(document["paths"])
    served = {
        rule.rule.replace("<player_id>", "{player_id}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert served == documented
    assert document == json.loads(render())


def test_a_wrong_method_gets_405_with_allow(client):
    response = client.delete("/v1/events")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.json["error"] == "Method Not Allowed"


def test_a_gunicorn_worker_freezes_what_it_loaded_so_collections_skip_it(monkeypatch, tmp_path):
    import gc
    import runpy

    from lake.settings import REPO_ROOT

    # The config makes a metrics folder unless one is set; this test's own.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = runpy.run_path(str(REPO_ROOT / "ingest" / "gunicorn.conf.py"))
    assert config["worker_class"] == "gthread"
    try:
        config["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
