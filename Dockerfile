# Every image of questlog, from one Debian base (a build argument) and nothing else: Debian's
# packages (Python 3.11, OpenJDK 17, Prometheus), the jars the local stack resolves from Maven
# Central (stack/maven/*/pom.xml into .stack/jars/) and a wheelhouse of requirements.lock
# (.stack/wheels/). `python -m stack.compose build` (make compose-up) prepares both and builds
# each target:
#
#   kafka        a KRaft broker and controller; also the topic's one-shot creator and kcat
#   hadoop       an HDFS NameNode or DataNode
#   spark        Python 3.11 + Java 17 + pyspark: the Spark master, workers and drivers (marts,
#                audit), so that executors run the drivers' Python, packages and code
#   landing      the spark image running the landing service
#   notebook     JupyterLab with questlog's packages
#   prometheus   Debian's Prometheus with ops/prometheus/
#   pushgateway  Debian's Pushgateway, for the batch jobs' metrics
#   ingest       (the default) the Flask service under gunicorn: no Spark, no Java
#
# Python packages are installed in build stages from the wheelhouse alone (no index), at the
# versions of requirements.lock; final stages copy the result and run as a non-root user.
ARG BASE=debian:bookworm-slim

# ---------------------------------------------------------------- bases
FROM ${BASE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# curl serves the health checks. Versions follow Debian's bookworm (the base pins the release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 questlog \
    && useradd --system --uid 10001 --gid questlog --create-home --home-dir /home/questlog questlog

FROM runtime AS python
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

FROM runtime AS jre
# Java 17, the line the local stack's Kafka, Hadoop and Spark run on.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

FROM jre AS jre-python
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv procps \
    && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------- Python packages
# What each image's code imports, plus the servers that run it; tests/unit/test_deployment.py
# checks these lists against the imports and the lock. pip takes every version, of these and
# of what they pull in, from requirements.lock, and every file from the wheelhouse.
FROM python AS ingest-deps
ARG INGEST_PACKAGES="flask gunicorn kafka-python crc32c jsonschema jsonschema-rs rfc3339-validator uuid-utils orjson prometheus-client python-json-logger deltalake pandas pyarrow pyjwt cryptography tenacity"
COPY requirements.lock /build/
# hadolint ignore=SC2086
RUN --mount=type=bind,source=.stack/wheels,target=/wheels \
    python3 -m venv /opt/venv \
    && printf '%s\n' $INGEST_PACKAGES > /build/requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels \
        -r /build/requirements.txt -c /build/requirements.lock

FROM jre-python AS spark-deps
# pandas and pyarrow for toPandas (streaming/audit.py); deltalake reads a mart's last commit.
ARG SPARK_APP_PACKAGES="pyspark delta-spark deltalake tenacity jsonschema jsonschema-rs rfc3339-validator uuid-utils orjson pandas pyarrow rbloom kafka-python prometheus-client hdfs"
COPY requirements.lock /build/
# hadolint ignore=SC2086
RUN --mount=type=bind,source=.stack/wheels,target=/wheels \
    python3 -m venv /opt/venv \
    && printf '%s\n' $SPARK_APP_PACKAGES > /build/requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels \
        -r /build/requirements.txt -c /build/requirements.lock

FROM python AS notebook-deps
# The notebooks read marts with lake.files (delta-rs, pandas) and plot with matplotlib.
# soupsieve (beautifulsoup4's, for nbconvert's HTML export) declares Python >= 3.11.5, one
# patch release past Debian bookworm's 3.11.2: it installs there as the lock pins it.
ARG NOTEBOOK_PACKAGES="jupyterlab ipykernel matplotlib numpy pandas pyarrow deltalake"
COPY requirements.lock /build/
# hadolint ignore=SC2086
RUN --mount=type=bind,source=.stack/wheels,target=/wheels \
    python3 -m venv /opt/venv \
    && printf '%s\n' $NOTEBOOK_PACKAGES > /build/requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels \
        --ignore-requires-python -r /build/requirements.txt -c /build/requirements.lock

# ---------------------------------------------------------------- kafka
FROM jre AS kafka
# kcat: the broker's health check asks it for the cluster's brokers, and it reads the topic.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends kcat \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/kafka/data /opt/kafka/config \
    && chown 10001:10001 /var/lib/kafka/data /opt/kafka/config
COPY .stack/jars/kafka/ /opt/kafka/libs/
COPY stack/conf/kafka/log4j2.properties stack/conf/kafka/tools-log4j2.properties /opt/kafka/
COPY stack/images/kafka.sh /opt/kafka/kafka.sh
USER 10001
CMD ["/opt/kafka/kafka.sh", "broker"]

# ---------------------------------------------------------------- hadoop
FROM jre AS hadoop
# The hadoop-hdfs jar lacks a distribution's share/hadoop/hdfs/webapps; the HTTP servers only
# need their folders on the classpath (as in stack/services.py).
RUN mkdir -p /data /opt/hadoop/etc/webapps/hdfs /opt/hadoop/etc/webapps/datanode \
        /opt/hadoop/etc/webapps/static /opt/hadoop/logs \
    && chown -R 10001:10001 /data /opt/hadoop/etc /opt/hadoop/logs
COPY .stack/jars/hadoop/ /opt/hadoop/lib/
COPY stack/conf/hadoop/log4j.properties /opt/hadoop/
COPY stack/images/hdfs.sh /opt/hadoop/hdfs.sh
USER 10001
CMD ["/opt/hadoop/hdfs.sh", "namenode"]

# ---------------------------------------------------------------- spark
FROM jre-python AS spark
COPY --from=spark-deps /opt/venv /opt/venv
COPY .stack/jars/spark/ /opt/questlog/jars/spark/
WORKDIR /app
COPY events/ events/
COPY runtime/ runtime/
COPY lake/ lake/
COPY streaming/ streaming/
COPY jobs/ jobs/
COPY stack/ stack/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    QUESTLOG_STACK_DIR=/opt/questlog \
    SPARK_CONF_DIR=/opt/questlog/conf/spark
# The compose topology's spark-defaults.conf, from the one source of every topology's
# (stack/spark_conf.py): master, jars, replication, partitions, the executors' Python.
RUN python3 -m stack.spark_conf compose \
    && mkdir -p /opt/questlog/data /opt/questlog/work \
    && chown -R 10001:10001 /opt/questlog/data /opt/questlog/work
USER 10001
CMD ["spark-submit", "jobs/run_marts.py", "--help"]

FROM spark AS landing
CMD ["spark-submit", "streaming/land_events.py", "--service"]

# ---------------------------------------------------------------- notebook
FROM python AS notebook
COPY --from=notebook-deps /opt/venv /opt/venv
WORKDIR /opt/questlog
COPY events/ events/
COPY runtime/ runtime/
COPY lake/ lake/
COPY jobs/ jobs/
COPY notebooks/ /home/questlog/notebooks/
RUN chown -R 10001:10001 /home/questlog/notebooks
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/questlog \
    PYTHONUNBUFFERED=1
USER 10001
WORKDIR /home/questlog/notebooks
EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"]

# ---------------------------------------------------------------- prometheus
FROM runtime AS prometheus
# Debian's Prometheus (2.42 in bookworm) with the project's rules and consoles.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/prometheus/data \
    && chown -R 10001:10001 /var/lib/prometheus/data
COPY ops/prometheus/ /etc/questlog/
USER 10001
EXPOSE 9090
CMD ["prometheus", "--config.file=/etc/questlog/compose.yml", \
     "--storage.tsdb.path=/var/lib/prometheus/data", \
     "--storage.tsdb.retention.time=7d", "--storage.tsdb.retention.size=512MB", \
     "--web.console.templates=/etc/questlog/consoles", \
     "--web.console.libraries=/etc/questlog/console_libraries", \
     "--web.listen-address=:9090"]

FROM runtime AS pushgateway
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends prometheus-pushgateway \
    && rm -rf /var/lib/apt/lists/*
USER 10001
EXPOSE 9091
CMD ["prometheus-pushgateway", "--web.listen-address=:9091"]

# ---------------------------------------------------------------- ingest (the default target)
FROM python AS ingest
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
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://localhost:5000/healthz"]
CMD ["gunicorn", "-c", "ingest/gunicorn.conf.py", "ingest:create_app()"]
