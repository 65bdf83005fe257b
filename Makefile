# questlog: `make demo` runs the pipeline end to end, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
STACK := python3 -m stack.manager
export PATH := $(VENV)/bin:$(PATH)
export SPARK_CONF_DIR ?= $(CURDIR)/.stack/conf/spark
export PYSPARK_PYTHON := $(PY)
export PYSPARK_DRIVER_PYTHON := $(PY)

.PHONY: help setup up down status topic demo serve test test-unit lint format stream stream-status stream-stop bench bench-quick bench-setup openapi cluster-up cluster-down cluster-env chaos notebook compose-build compose-up compose-test compose-down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip==26.3
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

setup: $(VENV)/.installed ## venv with the pinned packages, the stack's Maven jars, kcat, docker-compose, Spark conf
	$(STACK) setup
	bash stack/install_tools.sh
	$(PY) -m lake.spark_conf

up: setup ## start Kafka (KRaft), HDFS NameNode and DataNode, wait until they answer, create the topic
	$(STACK) up
	$(STACK) topic

down: ## stop the stack (and the landing service)
	$(STACK) down

status: ## show each node of the stack, and of the cluster topology when it runs
	$(STACK) status

cluster-up: setup ## start the cluster topology: 3 Kafka brokers, NameNode + 3 DataNodes, Spark master + 2 workers; create the topic
	$(STACK) --topology cluster up
	$(STACK) --topology cluster topic

cluster-down: ## stop the cluster topology (and its landing service)
	$(STACK) --topology cluster down

cluster-env: ## print `export` lines that point clients and Spark jobs at the cluster topology
	@$(STACK) --topology cluster env

compose-build: setup ## build every image of the Dockerfile on a Debian base (installs podman where no engine runs)
	$(PY) -m stack.compose build

compose-up: setup ## docker-compose.yml on this machine: build the images, start, wait until every service is healthy
	$(PY) -m stack.compose up

compose-test: setup ## the walk-through against a compose stack of its own on free 127.0.0.1 ports, then remove it: docs/cluster.md
	$(PY) -m stack.compose test

compose-down: ## stop the compose stack and delete its volumes
	$(PY) -m stack.compose down

chaos: $(VENV)/.installed ## fault cases against the running cluster topology (make cluster-up): docs/reliability.md
	$(PY) -m chaos $(CHAOS_ARGS)

topic: ## create the `events` topic if it is missing
	$(STACK) topic

demo: $(VENV)/.installed ## set up, start the stack, send events over HTTP, land them, compute marts (leaves the stack up)
	$(PY) -m stack.demo

serve: $(VENV)/.installed ## run the ingest service in the foreground as in production (needs QUESTLOG_API_KEYS); Prometheus scrapes it meanwhile
	ops=$${QUESTLOG_OPS_BIND:-127.0.0.1:5001}; \
	$(STACK) scrape ingest $$ops; trap '$(STACK) scrape ingest --remove' EXIT; \
	QUESTLOG_ENV=$${QUESTLOG_ENV:-production} QUESTLOG_SEED_ROUTES=$${QUESTLOG_SEED_ROUTES:-key} \
		QUESTLOG_OPS_BIND=$$ops $(VENV)/bin/gunicorn -c ingest/gunicorn.conf.py "ingest:create_app()"

stream: up ## run the landing job as a supervised background service (restarts it with back-off)
	$(STACK) stream start

stream-status: ## the landing service: running or waiting to restart, restarts, last exit, latest batch
	$(STACK) stream status

stream-stop: ## stop the landing service
	$(STACK) stream stop

test: setup ## start the stack, run every test in a random order (modules, then tests in each), stop the stack even on failure
	status=0; \
	{ $(STACK) up && $(STACK) topic && $(PY) -m pytest --random-order $(PYTEST_ARGS); } || status=$$?; \
	$(STACK) down; \
	exit $$status

test-unit: $(VENV)/.installed ## the tests that need no service, no jars and no tools (not `integration`, not `tools`)
	$(PY) -m pytest tests/unit -m "not integration and not tools" $(PYTEST_ARGS)

lint: $(VENV)/.installed ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed ## ruff format and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml requirements.lock
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[dev,bench]'
	touch $@

bench-setup: up $(VENV)/.bench-installed
	command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }

bench: bench-setup ## every benchmark against the running stack, ~90 min: bench/results/<date>.json, docs/benchmarks.md
	$(PY) -m bench

bench-quick: bench-setup ## the benchmarks at small sizes, a few minutes: bench/results/<date>-quick.json
	$(PY) -m bench --quick

notebook: $(VENV)/.installed ## JupyterLab on localhost (QUESTLOG_JUPYTER_PORT, 8888) with the stack's settings: lake, Spark conf
	$(PY) -m stack.notebook

openapi: $(VENV)/.installed ## rebuild ingest/openapi.json from the event catalog
	$(PY) -m ingest.openapi
