#!/usr/bin/env bash
# Installs the tools the deployment tests need beyond the Python packages: a Compose
# implementation whose `config` command validates docker-compose.yml without a Docker engine
# (Debian's docker-compose package). Does nothing when one is on PATH already.
set -euo pipefail

if command -v docker-compose > /dev/null; then
    echo "docker-compose: already installed"
    exit 0
fi
if ! command -v apt-get > /dev/null; then
    echo "docker-compose is missing and apt-get is not available; install Docker Compose" >&2
    exit 1
fi
echo "docker-compose: installing with apt-get ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose > /dev/null
echo "docker-compose: installed ($(docker-compose version --short))"
