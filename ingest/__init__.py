"""The ingest service: takes player events over HTTP and logs them to Kafka."""

from ingest.app import create_app

__all__ = ["create_app"]
