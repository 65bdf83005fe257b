"""gunicorn settings of the ingest service.

    gunicorn -c ingest/gunicorn.conf.py "ingest:create_app()"


Workers and threads were chosen by measuring on a 2-core machine (README, "Ingest serving").
Each worker is a process with its own Kafka producers; threads share them, which is what lets
a producer batch the acknowledgements of many concurrent requests (ingest/publisher.py).
"""

import gc
import os
import tempfile

# Metrics are summed over workers through files in this folder (prometheus_client multiprocess);
# set before ingest's modules (and prometheus_client) are imported.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="questlog-metrics-")

from ingest.settings import IngestSettings, ServingSettings  # noqa: E402
from runtime.settings import env_overrides  # noqa: E402

serving = ServingSettings.from_env()
# The ops port (metrics, readiness detail, OpenAPI), when set, on its own listener.
ops_bind = env_overrides(IngestSettings, os.environ, only={"ops_bind"}).get("ops_bind")
bind = [serving.ingest_bind, ops_bind] if ops_bind else serving.ingest_bind
workers = serving.ingest_workers
threads = serving.ingest_threads
worker_class = "gthread"
# A request waits at most publish_timeout_s for Kafka; this only catches a stuck worker.
timeout = 30
graceful_timeout = 15
accesslog = None


def post_worker_init(worker):
    """The worker has loaded the app, and what the app imported (pandas, pyarrow, delta-rs:
    about 100k objects) lives as long as the worker. Frozen, it is no longer walked by every
    full garbage collection: about 7 µs of a seed request (docs/benchmarks.md)."""
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Flush what the worker's producer still holds before the process ends."""
    app = getattr(worker, "wsgi", None)
    publisher = getattr(app, "extensions", {}).get("questlog.publisher")
    if publisher is not None:
        publisher.close()
