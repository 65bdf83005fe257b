# Images of questlog's own processes; docker-compose.yml builds each target.
#
#   ingest      (the default) the Flask service under gunicorn: no Spark, no Java
#   spark-app   Python 3.11 + Java 17 + pyspark: the Spark drivers (landing, marts), and the
#               standalone master and workers, so executors run the drivers' Python
#   notebook    the official Jupyter PySpark image with questlog's packages
#
# Base images are pinned by tag (a digest would pin harder, but none can be looked up where
# this file was written). Python package versions come from requirements.lock alone. Build
# stages install (hdfs, docopt and pyspark come as source archives of pure Python: pip builds
# them there without a compiler); final stages copy the result and run as a non-root user.

# ---------------------------------------------------------------- ingest packages
FROM python:3.11.15-slim-bookworm AS ingest-deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /build
COPY requirements.lock ./
# What ingest/ imports (with lake.settings and lake.files, which import no pyspark), plus
# gunicorn and the date-time checker jsonschema uses; tests/unit/test_deployment.py checks this
# list against the imports. pip takes every version, of these and of what they pull in, from
# requirements.lock.
ARG INGEST_PACKAGES="flask gunicorn kafka-python crc32c jsonschema jsonschema-rs rfc3339-validator uuid-utils orjson cachetools prometheus-client python-json-logger deltalake pandas pyarrow pyjwt cryptography tenacity"
RUN echo "$INGEST_PACKAGES" | tr ' ' '\n' > requirements.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt -c requirements.lock

# ---------------------------------------------------------------- Spark driver packages
FROM python:3.11.15-slim-bookworm AS spark-deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /build
COPY requirements.lock ./
# What streaming/ and jobs/ import (checked as above), plus pandas and pyarrow for toPandas
# (streaming/audit.py) and jsonschema's date-time checker. deltalake reads a mart's last
# commit from its log (lake.files).
ARG SPARK_APP_PACKAGES="pyspark delta-spark deltalake tenacity jsonschema jsonschema-rs rfc3339-validator uuid-utils orjson pandas pyarrow rbloom kafka-python prometheus-client hdfs"
RUN echo "$SPARK_APP_PACKAGES" | tr ' ' '\n' > requirements.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt -c requirements.lock
# lake.session reads <QUESTLOG_STACK_DIR>/conf/spark; spark-submit reads it as SPARK_CONF_DIR.
# The Kafka connector and Delta come with --packages (docker-compose.yml) into the Ivy folder;
# the session catalog's warehouse must be writable, and the code in /app is not.
RUN mkdir -p /opt/questlog/stack/conf/spark /opt/questlog/ivy /opt/questlog/warehouse \
    && printf '%s\n' \
        'spark.sql.session.timeZone UTC' \
        'spark.ui.showConsoleProgress false' \
        'spark.sql.shuffle.partitions 8' \
        'spark.sql.extensions io.delta.sql.DeltaSparkSessionExtension' \
        'spark.sql.catalog.spark_catalog org.apache.spark.sql.delta.catalog.DeltaCatalog' \
        'spark.jars.ivy /opt/questlog/ivy' \
        'spark.sql.warehouse.dir /opt/questlog/warehouse' \
        > /opt/questlog/stack/conf/spark/spark-defaults.conf

# ---------------------------------------------------------------- spark-app
FROM python:3.11.15-slim-bookworm AS spark-app
# The JRE follows Debian's security updates for bookworm (the base tag pins the release);
# Java 17, the line the stack's Spark runs on.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 questlog \
    && useradd --system --uid 10001 --gid questlog --create-home questlog
COPY --from=spark-deps /opt/venv /opt/venv
COPY --from=spark-deps --chown=10001:10001 /opt/questlog /opt/questlog
WORKDIR /app
COPY events/ events/
COPY runtime/ runtime/
COPY lake/ lake/
COPY streaming/ streaming/
COPY jobs/ jobs/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    QUESTLOG_STACK_DIR=/opt/questlog/stack \
    SPARK_CONF_DIR=/opt/questlog/stack/conf/spark
# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001
CMD ["spark-submit", "streaming/land_events.py", "--help"]

# ---------------------------------------------------------------- notebook
FROM quay.io/jupyter/pyspark-notebook:spark-4.2.0 AS notebook
# The notebooks read marts through lake.files: WebHDFS (hdfs) and pyarrow, which the image has.
COPY --chown=1000:100 requirements.lock /tmp/requirements.lock
RUN echo hdfs > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt -c /tmp/requirements.lock \
    && rm /tmp/requirements.txt /tmp/requirements.lock
COPY events/ /opt/questlog/events/
COPY runtime/ /opt/questlog/runtime/
COPY lake/ /opt/questlog/lake/
COPY jobs/ /opt/questlog/jobs/
ENV PYTHONPATH=/opt/questlog
# jovyan, the base image's user (NB_UID 1000, group users 100).
USER 1000

# ---------------------------------------------------------------- ingest (the default target)
FROM python:3.11.15-slim-bookworm AS ingest
RUN groupadd --system --gid 10001 questlog \
    && useradd --system --uid 10001 --gid questlog --no-create-home --home-dir /nonexistent questlog
COPY --from=ingest-deps /opt/venv /opt/venv
WORKDIR /app
COPY events/ events/
COPY runtime/ runtime/
COPY lake/ lake/
COPY ingest/ ingest/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    QUESTLOG_INGEST_BIND=0.0.0.0:5000
USER 10001
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:5000/healthz', timeout=3)"]
CMD ["gunicorn", "-c", "ingest/gunicorn.conf.py", "ingest:create_app()"]
