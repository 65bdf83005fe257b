"""The ops port under gunicorn: metrics, readiness detail and the OpenAPI document answer there,
not on the public port, which keeps the API and the probes' status."""

from __future__ import annotations

import requests

from stack.ingest_process import ingest_server
from tests.helpers.stack import free_port
from tests.helpers.waiting import eventually


def test_metrics_openapi_and_readiness_detail_answer_only_on_the_ops_port(topic, tmp_path):
    ops_port = free_port()
    # Metrics text built afresh on every scrape, not kept for a second.
    env = {
        "QUESTLOG_TOPIC": topic,
        "QUESTLOG_OPS_BIND": f"127.0.0.1:{ops_port}",
        "QUESTLOG_PROBE_CACHE_S": "0",
    }
    with ingest_server(free_port(), env=env, log_path=tmp_path / "ingest.log") as public:
        ops = f"http://127.0.0.1:{ops_port}"
        for path in ("/metrics", "/openapi.json"):
            assert requests.get(public + path, timeout=10).status_code == 404, path
            assert requests.get(ops + path, timeout=10).status_code == 200, path
        assert requests.get(public + "/readyz", timeout=10).json() == {"status": "ready"}
        assert "detail" in requests.get(ops + "/readyz", timeout=10).json()
        event = {"event_type": "level_up", "player_id": "p1", "properties": {"level": 2}}
        assert requests.post(public + "/v1/events", json=event, timeout=10).status_code == 202
        assert requests.post(ops + "/v1/events", json=event, timeout=10).status_code == 404
        # What the public port accepted is counted on the ops port, once the worker that
        # answered has applied its queued updates (every metrics.APPLY_EVERY_S).
        counted = 'questlog_events_accepted_total{event_type="level_up"} 1.0'
        eventually(lambda: counted in requests.get(ops + "/metrics", timeout=10).text)
