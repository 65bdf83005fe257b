"""The seed's own `game_api.py`, the baseline of the ingest benchmarks.

Its routes and its way of logging: a module-level KafkaProducer with default settings and a
fire-and-forget `send` of a bare string, answered before Kafka acknowledges anything. Only
the broker address and topic come from the settings, so it runs beside questlog's stack:

    gunicorn -c ingest/gunicorn.conf.py "bench.seed_app:create_app()"
    gunicorn -c ingest/gunicorn.conf.py "bench.seed_app:create_durable_app()"
"""

from __future__ import annotations

from flask import Flask
from kafka import KafkaProducer

from lake.settings import LakeSettings


def create_app() -> Flask:
    """The seed's app, under the same gunicorn settings as the ingest service."""
    settings = LakeSettings.from_env()
    app = Flask(__name__)
    event_logger = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    events_topic = settings.topic

    @app.route("/")
    def default_response():
        event_logger.send(events_topic, b"default")
        return "\nThis is the default response!\n"

    @app.route("/purchase_a_sword")
    def purchase_sword():
        event_logger.send(events_topic, b"purchased_sword")
        return "\nSword Purchased!\n"

    return app


def create_durable_app(event_logger=None) -> Flask:
    """The seed's app made durable, the first fix a user would write: the producer waits for
    every in-sync replica (`acks="all"`) and each route answers only once Kafka has the
    event (`send().get()`). Its players are told the truth, as questlog's are.

    `event_logger` stands in for the KafkaProducer (`bench.route_cost`)."""
    settings = LakeSettings.from_env()
    app = Flask(__name__)
    if event_logger is None:
        event_logger = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    events_topic = settings.topic

    @app.route("/")
    def default_response():
        event_logger.send(events_topic, b"default").get(timeout=10)
        return "\nThis is the default response!\n"

    @app.route("/purchase_a_sword")
    def purchase_sword():
        event_logger.send(events_topic, b"purchased_sword").get(timeout=10)
        return "\nSword Purchased!\n"

    return app
