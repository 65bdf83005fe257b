"""Prometheus metrics of the ingest service (multiprocess-safe under gunicorn)."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "questlog_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
EVENTS_ACCEPTED = Counter(
    "questlog_events_accepted_total", "Events acknowledged by Kafka", ["event_type"]
)
EVENTS_REJECTED = Counter(
    "questlog_events_rejected_total", "Events refused, by type and reason", ["event_type", "reason"]
)
PUBLISH_SECONDS = Histogram(
    "questlog_publish_seconds",
    "Time from sending a request's events to Kafka's last acknowledgement",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
EVENTS_IN_FLIGHT = Gauge(
    "questlog_events_in_flight",
    "Events sent to Kafka and not yet acknowledged",
    multiprocess_mode="livesum",
)
PLAYER_DATA_AGE_SECONDS = Histogram(
    "questlog_player_data_age_seconds",
    "Age of the data a player answer comes from: since the marts it reads were computed",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400),
)
