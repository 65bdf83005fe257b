"""Watching questlog run: the stack's Prometheus scrapes every target; a real Prometheus fires
the landing-lag alert while the landing service is down and resolves it once it is back; the
ops page shows the running services' data in a headless browser."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from stack.background import background_server
from stack.ingest_process import ingest_server
from stack.prometheus import CONSOLE_LIBRARIES, CONSOLES, RULES, config, program
from stack.settings import StackSettings
from tests.helpers.stack import free_port, landing_service, new_topic, own_lake, stop
from tests.helpers.waiting import eventually

LAG_ALERT = "QuestlogLandingLag"


def query(prometheus_url: str, expr: str) -> list[dict]:
    """The instant vector of `expr` in a Prometheus."""
    answer = requests.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def scaled_rules(target: Path) -> Path:
    """The shipped rules with the lag alert's 60 s and 5 minutes scaled to 5 s and 5 s, so
    that a test sees it fire within seconds; every other rule as shipped."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == LAG_ALERT:
                scaled = rule["expr"].replace("> 60", "> 5")
                assert scaled != rule["expr"], "the lag rule's threshold moved: update this test"
                rule["expr"], rule["for"] = scaled, "5s"
    target.write_text(yaml.safe_dump(rules))
    return target


def test_the_stacks_prometheus_scrapes_every_target_it_lists_and_loads_the_rules():
    settings = StackSettings.from_env()

    def every_target_up():
        body = requests.get(f"{settings.prometheus_url}/api/v1/targets", timeout=10).json()
        targets = body["data"]["activeTargets"]
        jobs = {target["labels"]["job"] for target in targets}
        up = all(target["health"] == "up" for target in targets)
        return targets if up and {"prometheus", "pushgateway", "lag"} <= jobs else None

    targets = eventually(every_target_up, timeout_s=60, every_s=1)
    assert {t["labels"]["job"] for t in targets} >= {"prometheus", "pushgateway", "lag"}
    rules = requests.get(f"{settings.prometheus_url}/api/v1/rules", timeout=10).json()
    loaded = {rule["name"] for g in rules["data"]["groups"] for rule in g["rules"]}
    shipped = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert loaded == shipped
    assert answers(settings.ops_page_url)
    # The lag exporter reads the stack's own topic: a number per partition, not an error.
    lag = query(settings.prometheus_url, 'questlog_landing_consumer_lag_records{job="lag"}')
    assert len(lag) == settings.topic_partitions


class Watched:
    """A topic and lake of their own, with an ingest service, the landing service (marts
    following), a lag exporter and a Prometheus scraping all three every second."""

    def __init__(self, lake_settings, folder: Path):
        self.topic = new_topic(lake_settings.kafka_bootstrap)
        _, lake_root = own_lake(lake_settings.lake_root)
        self.landing_port, lag_port, self.prometheus_port = free_port(), free_port(), free_port()
        self.env = {
            "QUESTLOG_TOPIC": self.topic,
            "QUESTLOG_LAKE_ROOT": lake_root,
            "QUESTLOG_PLAYER_STATE_REFRESH_S": "1",
            "QUESTLOG_LANDING_METRICS_BIND": f"127.0.0.1:{self.landing_port}",
        }
        self.folder = folder
        self.landing: subprocess.Popen | None = None
        self.lag_port = lag_port
        self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}"
        self._sending = threading.Event()
        self.sent = 0

    def start_landing(self) -> None:
        log = (self.folder / "landing.log").open("a")
        self.landing = landing_service(
            self.env, "--trigger-interval", "1 second", "--marts-every", "2", stdout=log
        )

    def stop_landing(self) -> None:
        if self.landing is not None:
            stop(self.landing)
            self.landing = None

    def prometheus_config(self, ingest_url: str) -> Path:
        static = {
            "prometheus": [f"127.0.0.1:{self.prometheus_port}"],
            "lag": [f"127.0.0.1:{self.lag_port}"],
            "landing": [f"127.0.0.1:{self.landing_port}"],
            "ingest": [ingest_url.split("/")[2]],
        }
        rules = scaled_rules(self.folder / "alerts.yml")
        path = self.folder / "prometheus.yml"
        path.write_text(yaml.safe_dump(config("1s", [rules], static)))
        return path

    def post(self, url: str, event: dict) -> int:
        return requests.post(f"{url}/v1/events", json=event, timeout=10).status_code

    def keep_sending(self, url: str) -> threading.Thread:
        """Post a session_start every 0.2 s until `stop_sending`."""

        def send() -> None:
            while not self._sending.wait(0.2):
                event = {"event_type": "session_start", "player_id": f"p-{self.sent % 7}"}
                assert self.post(url, event) == 202
                self.sent += 1

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        return thread

    def stop_sending(self, thread: threading.Thread) -> None:
        self._sending.set()
        thread.join()
        self._sending.clear()


@pytest.fixture(scope="module")
def watched(lake_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("watched")
    world = Watched(lake_settings, folder)
    lag_exporter = [sys.executable, "-m", "streaming.lag_exporter"]
    lag_exporter += ["--bind", f"127.0.0.1:{world.lag_port}"]
    lag_env = {**os.environ, **world.env}
    with (
        ingest_server(free_port(), env=world.env, log_path=folder / "ingest.log") as url,
        background_server(
            lag_exporter,
            lag_env,
            lambda: answers(f"http://127.0.0.1:{world.lag_port}/metrics"),
            "the lag exporter",
            folder / "lag.log",
        ),
        background_server(
            [
                program("prometheus"),
                f"--config.file={world.prometheus_config(url)}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{world.prometheus_port}",
                f"--web.console.templates={CONSOLES}",
                f"--web.console.libraries={CONSOLE_LIBRARIES}",
            ],
            {},
            lambda: answers(f"{world.prometheus_url}/-/ready"),
            "Prometheus",
            folder / "prometheus.log",
        ),
    ):
        world.ingest_url = url
        world.start_landing()
        try:
            yield world
        finally:
            world.stop_landing()


def lag_alert(prometheus_url: str) -> str | None:
    """The lag alert's state: firing, pending, or None when it is not active."""
    series = query(prometheus_url, f'ALERTS{{alertname="{LAG_ALERT}"}}')
    states = {s["metric"]["alertstate"] for s in series}
    return "firing" if "firing" in states else ("pending" if states else None)


def caught_up(prometheus_url: str) -> bool:
    """The lag exporter reads every partition of the topic, and none lags."""
    lag = query(prometheus_url, 'questlog_landing_consumer_lag_records{job="lag"}')
    return bool(lag) and all(float(s["value"][1]) == 0 for s in lag)


def test_the_lag_alert_fires_while_landing_is_down_and_resolves_once_it_is_back(watched):
    url = watched.ingest_url
    assert watched.post(url, {"event_type": "session_start", "player_id": "first"}) == 202

    # Landing's start already delays that first event past the (scaled) threshold: the test
    # starts once landing has caught up and the alert is quiet.
    def quiet() -> bool:
        return caught_up(watched.prometheus_url) and lag_alert(watched.prometheus_url) is None

    eventually(quiet, timeout_s=300, every_s=1)

    watched.stop_landing()
    sender = watched.keep_sending(url)
    try:
        # Events keep coming: the lag exporter sees their age grow past the threshold.
        eventually(lambda: lag_alert(watched.prometheus_url) == "firing", 180, 1)
    finally:
        watched.stop_sending(sender)
    assert watched.sent > 0
    watched.start_landing()
    eventually(lambda: lag_alert(watched.prometheus_url) is None, 600, 1)
    # Resolved because landing caught up, not because a scrape failed: no record waits, and
    # the landing service answers Prometheus again.
    assert caught_up(watched.prometheus_url)
    up = query(watched.prometheus_url, 'up{job="landing"}')
    assert [float(s["value"][1]) for s in up] == [1]


PANELS = {
    "throughput": ["accepted by ingest", "landed in the lake"],
    "lag": ["oldest record not landed", "records not landed"],
    "latency": ["p50", "p95", "player answers' data age, p95"],
    "quarantine": ["last 5 minutes"],
    "answers": ["202 accepted", "4xx refused (not 429)", "429 rate limited", "503 unavailable"],
}


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = program("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(program("chromedriver")))


def panel_values(driver: webdriver.Chrome, page: str) -> dict[str, dict[str, str]]:
    """Each panel's rows (first cell -> second cell) as the browser renders the page."""
    driver.get(page)
    values = {}
    for section in driver.find_elements(By.CSS_SELECTOR, "section[id]"):
        rows = {}
        for row in section.find_elements(By.TAG_NAME, "tr"):
            cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            rows[cells[0]] = cells[1] if len(cells) > 1 else ""
        values[section.get_attribute("id")] = rows
    return values


def test_the_ops_page_shows_the_running_services_data_in_a_browser(watched):
    url = watched.ingest_url
    player = f"buyer-{uuid.uuid4().hex[:8]}"
    purchase = {
        "event_type": "purchase",
        "player_id": player,
        "properties": {"item": "sword", "price": 100, "currency": "gold", "quantity": 1},
    }
    assert watched.post(url, purchase) == 202
    if watched.landing is None:
        watched.start_landing()

    def player_known():
        return requests.get(f"{url}/v1/players/{player}", timeout=10).status_code == 200

    eventually(player_known, timeout_s=600, every_s=1)
    page = f"{watched.prometheus_url}/consoles/questlog.html"
    driver = browser()
    try:

        def every_panel_has_data():
            # Rates need two scrapes after the events: the page is read until they show, with
            # an accepted event and a refused one sent at each read.
            assert watched.post(url, {"event_type": "session_start", "player_id": player}) == 202
            assert watched.post(url, {"event_type": "purchase", "player_id": player}) in (400, 422)
            # A lookup for the data-age panel (each gunicorn worker reads the marts on its own
            # clock, so one may not know the player yet).
            player_known()
            values = panel_values(driver, page)
            missing = [
                (panel, row)
                for panel, rows in PANELS.items()
                for row in rows
                if values.get(panel, {}).get(row, "no data") == "no data"
            ]
            fresh = values.get("freshness", {})
            rates = [
                values.get("throughput", {}).get("accepted by ingest"),
                values.get("answers", {}).get("202 accepted"),
                values.get("answers", {}).get("4xx refused (not 429)"),
            ]
            if missing or "0/s" in rates or not {"events", "daily_kpis"} <= set(fresh):
                return None
            return values

        values = eventually(every_panel_has_data, timeout_s=180, every_s=2)
    finally:
        driver.quit()
    # Rates of one event each 2 s, humanized: "500m/s" and the like.
    assert re.fullmatch(r"[0-9.]+m?/s", values["throughput"]["accepted by ingest"])
    assert values["answers"]["503 unavailable"] == "0/s"
    assert set(values["freshness"]) >= {"events", "daily_kpis", "player_purchases"}
    assert "alerts" in values
