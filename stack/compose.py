"""The compose topology on this machine: `python -m stack.compose {engine,build,up,test,down}`.

`engine` installs and configures a container engine when none runs (Debian's podman, rootful,
driven by Debian's docker-compose through podman's Docker API socket); `build` builds every
image of the Dockerfile on a Debian base; `up` starts docker-compose.yml and waits until every
service is healthy; `test` runs the walk-through against a stack of its own (free host ports on
127.0.0.1, a project name of its own) and removes it with its volumes; `down` stops `up`'s stack
and deletes its volumes. Figures of the last build and test go to <stack dir>/compose/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml

from stack.jars import JAR_SETS, resolve_jars
from stack.processes import StackError
from stack.settings import REPO_ROOT, StackSettings

DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
BASE_IMAGE = "debian:bookworm-slim"
# Build order: each target's stages are cached for the next.
TARGETS = (
    "kafka",
    "hadoop",
    "ingest",
    "spark",
    "landing",
    "notebook",
    "prometheus",
    "pushgateway",
)
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
# runc here cannot raise resource limits past the engine's: give every container these.
ENGINE_CONF = """\
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
"""
# Ports the local stack (single and cluster topology) may hold on this machine: a test stack
# publishes elsewhere.
LOCAL_STACK_PORTS = {5000, 5001, 8080, 8888, 9000, 9090, 9091, 9092, 9093, 9466, 9467, 9870}
LOCAL_STACK_PORTS |= {37077, 38080, 39000, 39090, 39091, 39092, 39094, 39096, 39870, 7077}
# Run only when their code is there: the lag exporter comes with the ops work.
OPTIONAL_SERVICES = {"lag-exporter": REPO_ROOT / "streaming" / "lag_exporter.py"}


def project_version() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def image_tag(target: str) -> str:
    """The tag docker-compose.yml names a target's image by."""
    return f"questlog/{target}:{project_version()}"


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("check", True)
    kwargs.setdefault("text", True)
    return subprocess.run(command, **kwargs)


# ---------------------------------------------------------------- the engine


def state_dir(settings: StackSettings) -> Path:
    path = settings.stack_dir / "compose"
    path.mkdir(parents=True, exist_ok=True)
    return path


def engine_cli() -> str:
    """The engine's command-line tool: podman, else docker."""
    for tool in ("podman", "docker"):
        if shutil.which(tool):
            return tool
    raise StackError("no container engine: run `python -m stack.compose engine`")


def install_engine() -> None:
    """Debian's podman (with runc: crun cannot run on every host's cgroups), docker-compose
    and debootstrap, when missing."""
    missing = [
        tool for tool in ("podman", "docker-compose", "debootstrap") if not shutil.which(tool)
    ]
    if not missing:
        return
    if not (Path("/etc/debian_version").is_file() and shutil.which("apt-get")):
        raise StackError(
            f"{', '.join(missing)} missing and this is not Debian: install a container engine "
            "(Docker, or podman with its Docker API socket) and docker-compose, then run again"
        )
    packages = [*missing, "runc"] if "podman" in missing else missing
    print(f"engine: installing {' '.join(packages)} with apt-get ...")
    run(["apt-get", "update", "-qq"])
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "install", "-y", "-qq", *packages], env=environ)


def configure_podman() -> bool:
    """containers.conf: the ulimits every container gets; runc where crun cannot run here.
    Whether it wrote anything."""
    text = CONTAINERS_CONF.read_text() if CONTAINERS_CONF.is_file() else ""
    added = "" if "default_ulimits" in text else ENGINE_CONF
    if "runtime =" not in text:
        probe = run(["podman", "run", "--rm", BASE_IMAGE, "true"], check=False, capture_output=True)
        if "cgroups in hybrid mode" in probe.stderr:
            # crun refuses a cgroup v1/v2 hybrid host; runc runs on it.
            if "[engine]" in text or not shutil.which("runc"):
                raise StackError(
                    f"podman's crun cannot run containers on this host's cgroups: install runc "
                    f'and set runtime = "runc" under [engine] in {CONTAINERS_CONF}'
                )
            added += (
                '\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n'
            )
    if not added:
        return False
    CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
    CONTAINERS_CONF.write_text(text + ("\n" if text else "") + added)
    print(f"engine: wrote {CONTAINERS_CONF}")
    return True


def base_image(settings: StackSettings) -> None:
    """The Debian base: pulled where a registry answers, else built from Debian's mirror."""
    cli = engine_cli()
    if run([cli, "image", "exists", BASE_IMAGE], check=False).returncode == 0:
        return
    pulled = run([cli, "pull", f"docker.io/library/{BASE_IMAGE}"], check=False, timeout=120)
    if pulled.returncode == 0:
        return
    rootfs = state_dir(settings) / "rootfs"
    print(f"engine: no registry; building {BASE_IMAGE} with debootstrap ...", flush=True)
    shutil.rmtree(rootfs, ignore_errors=True)
    run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs)], stdout=subprocess.DEVNULL)
    # As the registry's image: bookworm, its updates and security updates.
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    run([cli, "import", "-", BASE_IMAGE], stdin=tar.stdout, stdout=subprocess.DEVNULL)
    tar.wait()
    shutil.rmtree(rootfs)


def api_socket(settings: StackSettings) -> str:
    """DOCKER_HOST for docker-compose: Docker's own, or podman's API service (started here)."""
    if engine_cli() == "docker":
        return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    path = state_dir(settings) / "podman.sock"
    url = f"unix://{path}"
    if (
        path.exists()
        and run(["podman", "--url", url, "version"], check=False, capture_output=True).returncode
        == 0
    ):
        return url
    path.unlink(missing_ok=True)
    log = (state_dir(settings) / "podman-service.log").open("a")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", url],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    (state_dir(settings) / "podman-service.pid").write_text(f"{service.pid}\n")
    for _ in range(50):
        if path.exists():
            return url
        time.sleep(0.2)
    raise StackError(f"podman system service did not open {path}")


def stop_api_service(settings: StackSettings) -> None:
    """Stop the podman API service `api_socket` started, if it runs."""
    pid_file = state_dir(settings) / "podman-service.pid"
    if not pid_file.is_file():
        return
    with contextlib.suppress(ProcessLookupError, ValueError):
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    pid_file.unlink()
    (state_dir(settings) / "podman.sock").unlink(missing_ok=True)


def engine(settings: StackSettings) -> dict[str, str]:
    """Install and configure the engine when needed; the environment docker-compose needs."""
    install_engine()
    if engine_cli() == "podman":
        base_image(settings)
        if configure_podman():
            # An API service started before reads the old configuration.
            stop_api_service(settings)
    else:
        base_image(settings)
    return {**os.environ, "DOCKER_HOST": api_socket(settings)}


# ---------------------------------------------------------------- the images


def image_packages() -> list[str]:
    """Every package the Dockerfile's `ARG <...>_PACKAGES="..."` lists name."""
    text = DOCKERFILE.read_text()
    found = re.findall(r'^ARG [A-Z_]+_PACKAGES="([^"]+)"', text, re.MULTILINE)
    return sorted({name for names in found for name in names.split()})


def wheelhouse(settings: StackSettings) -> Path:
    """Wheels of what the images install, at requirements.lock's versions (pure-Python source
    archives built into wheels here, so the images need no index and no compiler)."""
    target = settings.stack_dir / "wheels"
    lock = (REPO_ROOT / "requirements.lock").read_text()
    marker_text = " ".join(image_packages()) + "\n" + lock
    marker = target / ".built"
    if marker.is_file() and marker.read_text() == marker_text:
        print("wheels: already built")
        return target
    print("wheels: building the wheelhouse ...", flush=True)
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(target)]
    run([*command, "-c", str(REPO_ROOT / "requirements.lock"), *image_packages()])
    marker.write_text(marker_text)
    return target


def build(settings: StackSettings, targets: tuple[str, ...] = TARGETS) -> dict[str, float]:
    """Build each target's image; seconds per target (cached stages cost nothing)."""
    engine(settings)
    for jar_set in JAR_SETS:
        resolve_jars(settings, jar_set)
    wheelhouse(settings)
    seconds = {}
    for target in targets:
        print(f"image {image_tag(target)}: building ...", flush=True)
        started = time.monotonic()
        log = state_dir(settings) / f"build-{target}.log"
        with log.open("w") as out:
            command = [engine_cli(), "build", "--target", target, "-t", image_tag(target)]
            command += ["--build-arg", f"BASE={BASE_IMAGE}", "-f", str(DOCKERFILE), str(REPO_ROOT)]
            result = run(command, check=False, stdout=out, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise StackError(f"image {target} failed to build: see {log}")
        seconds[target] = round(time.monotonic() - started, 1)
        print(f"image {image_tag(target)}: built in {seconds[target]} s", flush=True)
    seconds["total"] = round(sum(seconds.values()), 1)
    (state_dir(settings) / "build-seconds.json").write_text(json.dumps(seconds, indent=2) + "\n")
    return seconds


# ---------------------------------------------------------------- a running stack


class Stack:
    """One compose project: its name, its host ports, docker-compose with the engine's socket."""

    def __init__(self, settings: StackSettings, project: str, publish: dict[str, str]):
        self.settings = settings
        self.project = project
        self.publish = publish
        self.environ = engine(settings) | publish
        self.ticker: threading.Event | None = None

    def compose(self, *arguments: str, **kwargs) -> subprocess.CompletedProcess[str]:
        command = ["docker-compose", "--project-name", self.project]
        command += ["--project-directory", str(REPO_ROOT), "-f", str(COMPOSE_FILE), *arguments]
        return run(command, env=self.environ, cwd=REPO_ROOT, **kwargs)

    def services(self) -> list[str]:
        """The long-running services this checkout can run (not the on-demand `jobs`: naming
        a service of a profile to `up` would start it)."""
        config = yaml.safe_load(self.compose("config", capture_output=True).stdout)
        running = []
        for name, service in config["services"].items():
            code = OPTIONAL_SERVICES.get(name)
            if "profiles" in service:
                continue
            if code is not None and not code.is_file():
                print(f"compose: {name} not started ({code.relative_to(REPO_ROOT)} is not here)")
                continue
            running.append(name)
        return running

    def containers(self) -> dict[str, str]:
        """Container id by service, of the project's running and exited containers."""
        ids = self.compose("ps", "-q", capture_output=True).stdout.split()
        found = {}
        for container in ids:
            labels = run(
                [engine_cli(), "inspect", "--format", "{{json .Config.Labels}}", container],
                capture_output=True,
            )
            service = json.loads(labels.stdout)["com.docker.compose.service"]
            found[service] = container
        return found

    def health(self) -> dict[str, str]:
        """Each service's health (or state, for one without a check)."""
        states = {}
        for service, container in self.containers().items():
            shown = run(
                [engine_cli(), "inspect", "--format", "{{json .State}}", container],
                capture_output=True,
            )
            state = json.loads(shown.stdout)
            check = state.get("Health") or state.get("Healthcheck") or {}
            states[service] = check.get("Status") or state["Status"]
        return states

    @contextlib.contextmanager
    def health_checks(self) -> Iterator[None]:
        """Run the containers' health checks while inside. Docker runs them itself, podman
        through systemd timers; without systemd nothing would, and docker-compose would wait
        forever for `service_healthy`."""
        if engine_cli() != "podman" or Path("/run/systemd/system").is_dir():
            yield
            return
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(5):
                with contextlib.suppress(Exception):
                    for container in self.containers().values():
                        run(
                            ["podman", "healthcheck", "run", container],
                            check=False,
                            capture_output=True,
                        )

        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def up(self, timeout_s: float = 900) -> float:
        """Start every service and wait until each is healthy; the seconds it took."""
        started = time.monotonic()
        services = self.services()
        self.compose("up", "-d", "--no-build", *services)
        while True:
            states = self.health()
            waiting = {s: states.get(s, "missing") for s in services if states.get(s) != "healthy"}
            # The one-shot creator of the topic has exited with 0.
            waiting.pop("kafka-topics", None)
            if not waiting:
                return round(time.monotonic() - started, 1)
            if time.monotonic() - started > timeout_s:
                raise StackError(f"not healthy after {timeout_s:.0f} s: {waiting}")
            time.sleep(5)

    def down(self) -> None:
        self.compose("--profile", "jobs", "down", "--volumes", "--remove-orphans", check=False)

    def exec(self, service: str, *command: str) -> str:
        return self.compose("exec", "-T", service, *command, capture_output=True).stdout

    def run_job(self, *arguments: str) -> str:
        """A one-shot Spark driver (the marts service) with these spark-submit arguments."""
        result = self.compose(
            "run", "--rm", "-T", "marts", *arguments, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise StackError(
                f"marts {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
            )
        return result.stdout


def free_port() -> int:
    """A port free on 127.0.0.1 that the local stack does not use."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in LOCAL_STACK_PORTS:
            return port


# ---------------------------------------------------------------- the walk-through


def http(method: str, url: str, key: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def landed_count(stack: Stack) -> int:
    """Events the landing service appended (its own counter)."""
    metrics = stack.exec("landing", "curl", "-fsS", "http://localhost:9466/metrics")
    match = re.search(r"^questlog_landing_events_landed_total (\S+)$", metrics, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


def walk_through(stack: Stack, server_key: str, studio_key: str) -> dict[str, object]:
    """The seed's curls, kcat, simulator traffic, landing, marts, a player, the audit."""
    from events.shop import SEED_ITEMS

    figures: dict[str, object] = {}
    api = f"http://127.0.0.1:{stack.publish['QUESTLOG_PUBLISH_INGEST']}"
    # The seed's curls, with the key production mode asks for.
    seed_paths = ["/", *(f"/purchase_a_{item}" for item in SEED_ITEMS), "/join_a_guild"]
    statuses = []
    for path in seed_paths:
        query = "?player_id=seed-player" + ("&guild_id=g1" if path == "/join_a_guild" else "")
        status, _ = http("GET", api + path + query, server_key)
        statuses.append(status)
    figures["seed_requests"] = len(statuses)
    figures["seed_ok"] = sum(status == 200 for status in statuses)
    if figures["seed_ok"] != len(statuses):
        raise StackError(f"seed routes answered {statuses}")
    # kcat reads the topic inside the network, as the seed does.
    records = stack.exec(
        "kafka-1", "kcat", "-C", "-b", "kafka-1:9092", "-t", "events", "-o", "beginning", "-e", "-q"
    )
    figures["kcat_records"] = len(records.splitlines())
    # Simulator traffic, in production mode with the server's key.
    report = state_dir(stack.settings) / "simulated.jsonl"
    command = [sys.executable, "-m", "simulator", "--url", api, "--players", "40", "--days", "3"]
    command += ["--api-key", server_key, "--report", str(report)]
    print(run(command, cwd=REPO_ROOT, capture_output=True).stdout.strip())
    simulated = [json.loads(line) for line in report.read_text().splitlines()]
    figures["simulator_events_accepted"] = len(simulated)
    expected = figures["seed_ok"] + len(simulated)
    figures["events_sent"] = expected
    # Landing: every accepted event in the lake.
    started = time.monotonic()
    while (landed := landed_count(stack)) < expected:
        if time.monotonic() - started > 600:
            raise StackError(f"landed {landed} of {expected} events after 600 s")
        time.sleep(5)
    figures["landed_rows"] = landed
    figures["landing_wait_s"] = round(time.monotonic() - started, 1)
    # Marts from every event, then a player with purchases through the API.
    started = time.monotonic()
    stack.run_job("jobs/run_marts.py")
    figures["marts_s"] = round(time.monotonic() - started, 1)
    buyer = next(e["player_id"] for e in simulated if e["event_type"] == "purchase")
    status, body = http("GET", f"{api}/v1/players/{buyer}", studio_key)
    figures["player_endpoint_status"] = status
    if status != 200:
        raise StackError(f"GET /v1/players/{buyer}: {status} {body[:500]!r}")
    figures["player"] = player = json.loads(body)
    bought = sum(e["player_id"] == buyer and e["event_type"] == "purchase" for e in simulated)
    if player["purchases"]["purchases"] != bought:
        raise StackError(f"{buyer} made {bought} purchases, the endpoint says {player}")
    # The audit: every record of the topic landed or quarantined, none twice.
    started = time.monotonic()
    audit = stack.run_job("streaming/audit.py")
    figures["audit_s"] = round(time.monotonic() - started, 1)
    figures["audit"] = audit.strip().splitlines()[-1]
    print(audit)
    # Prometheus scrapes every target it knows.
    targets = json.loads(
        stack.exec("prometheus", "curl", "-fsS", "http://localhost:9090/api/v1/targets")
    )
    figures["prometheus_targets"] = {
        t["labels"]["job"]: t["health"] for t in targets["data"]["activeTargets"]
    }
    return figures


def compose_test(settings: StackSettings, keep: bool = False) -> dict[str, object]:
    """Build, start a stack of its own, walk through it, and remove it with its volumes."""
    figures: dict[str, object] = {"build_s": build(settings)}
    server_key, studio_key = secrets.token_hex(24), secrets.token_hex(24)
    publish = {
        "QUESTLOG_PUBLISH_ADDRESS": "127.0.0.1",
        "QUESTLOG_PUBLISH_INGEST": str(free_port()),
        "QUESTLOG_PUBLISH_JUPYTER": str(free_port()),
        "QUESTLOG_API_KEYS": f"{server_key}=events:write:any,{studio_key}=players:read",
    }
    stack = Stack(settings, f"questlogtest{os.getpid()}", publish)
    try:
        with stack.health_checks():
            figures["up_to_healthy_s"] = stack.up()
            print(f"compose: healthy after {figures['up_to_healthy_s']} s", flush=True)
            figures |= walk_through(stack, server_key, studio_key)
    except Exception:
        print(stack.compose("logs", "--tail", "40", capture_output=True, check=False).stdout)
        raise
    finally:
        if not keep:
            stack.down()
            stop_api_service(settings)
    (state_dir(settings) / "test-figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.compose", description=__doc__)
    parser.add_argument("command", choices=["engine", "build", "up", "test", "down"])
    parser.add_argument("--keep", action="store_true", help="test: leave the stack running")
    args = parser.parse_args(argv)
    settings = StackSettings.from_env()
    try:
        if args.command == "engine":
            print(f"DOCKER_HOST={engine(settings)['DOCKER_HOST']}")
        elif args.command == "build":
            print(json.dumps(build(settings), indent=2))
        elif args.command == "test":
            compose_test(settings, keep=args.keep)
        else:
            stack = Stack(settings, "questlog", {})
            if args.command == "down":
                stack.down()
                stop_api_service(settings)
            else:
                build(settings)
                with stack.health_checks():
                    print(f"compose: healthy after {stack.up()} s")
                print(f"DOCKER_HOST={stack.environ['DOCKER_HOST']} docker-compose ps")
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
