#!/usr/bin/env bash
# Installs the programs the stack and its tests need beyond the Python packages and the jars,
# from Debian's packages:
#   docker-compose           validates docker-compose.yml (`config`) without a container engine
#   prometheus, promtool     scrapes every stage, evaluates ops/prometheus/alerts.yml
#   prometheus-pushgateway   where batch jobs (marts, audit) push their metrics
#   chromium, chromedriver   the ops page's browser test
# Does nothing for a program already on PATH.
set -euo pipefail

declare -A PACKAGE_OF=(
    [docker-compose]=docker-compose
    [prometheus]=prometheus
    [promtool]=prometheus
    [prometheus-pushgateway]=prometheus-pushgateway
    [chromium]=chromium
    [chromedriver]=chromium-driver
)
missing=()
for program in "${!PACKAGE_OF[@]}"; do
    command -v "$program" > /dev/null || missing+=("${PACKAGE_OF[$program]}")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "tools: docker-compose, prometheus, pushgateway, chromium already installed"
    exit 0
fi
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if ! command -v apt-get > /dev/null; then
    echo "missing: $packages; apt-get is not available, install them by hand" >&2
    exit 1
fi
echo "tools: installing $packages with apt-get ..."
apt-get update -qq
# shellcheck disable=SC2086 (one word per package)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages > /dev/null
# Debian starts the packaged services where an init system runs; the stack runs its own.
for service in prometheus prometheus-pushgateway; do
    if command -v systemctl > /dev/null && systemctl is-active --quiet "$service" 2> /dev/null; then
        systemctl disable --now "$service" > /dev/null 2>&1 || true
    fi
done
echo "tools: installed $packages"
