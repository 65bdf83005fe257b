"""A Flask app that takes `POST /v1/events` and answers 202 without Kafka: the ingest's ceiling.

gunicorn -c ingest/gunicorn.conf.py "bench.noop_app:create_app()"
"""

from __future__ import annotations

from flask import Flask, jsonify, request


def create_app() -> Flask:
    """The no-op service: same server, same config, no validation, no Kafka."""
    app = Flask(__name__)

    @app.post("/v1/events")
    def post_events():
        request.get_data()
        response = jsonify({"accepted": 1})
        response.status_code = 202
        return response

    @app.get("/readyz")
    def readyz():
        return jsonify({"ready": True})

    return app
