"""Run the local questlog stack: a Kafka broker and an HDFS NameNode and DataNode.

The services are plain `java` processes started from jars that Maven resolves from
stack/maven/*/pom.xml; versions live in stack/versions.env only.

Usage: python -m stack.manager <command>

  setup                  resolve the jars (skipped when already there) and install kcat
  up [service ...]       start kafka, namenode, datanode (default: all) and wait until they answer
  down [service ...]     stop services (SIGTERM, then SIGKILL after a grace period)
  status                 one line per service: running or stopped, and whether it answers
  topic [--name N] [--partitions P]
                         create the events topic if it does not exist
  describe [--name N]    describe a topic

Settings come from QUESTLOG_* environment variables (see StackSettings.from_env).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import string
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

STACK_SRC = Path(__file__).resolve().parent
REPO_ROOT = STACK_SRC.parent
CONF_SRC = STACK_SRC / "conf"

SERVICES = ("kafka", "namenode", "datanode")
JAR_SETS = {
    # jar set -> the versions.env entries its pom needs
    "kafka": ("KAFKA_VERSION", "SCALA_BINARY_VERSION"),
    "hadoop": ("HADOOP_VERSION",),
    "spark": ("SPARK_VERSION", "SCALA_BINARY_VERSION", "DELTA_VERSION"),
}
MAIN_CLASSES = {
    "kafka": "kafka.Kafka",
    "namenode": "org.apache.hadoop.hdfs.server.namenode.NameNode",
    "datanode": "org.apache.hadoop.hdfs.server.datanode.DataNode",
}
# The machine has two cores and also runs Spark, so every JVM gets a modest heap.
HEAPS = {"kafka": "-Xmx1g", "namenode": "-Xmx512m", "datanode": "-Xmx512m", "tool": "-Xmx512m"}
STOP_GRACE_SECONDS = 30
POLL_SECONDS = 0.5
LOG_TAIL_LINES = 40


class StackError(Exception):
    """A stack command failed; the message says why."""


@dataclass(frozen=True)
class StackSettings:
    """Where the stack lives and which ports it uses."""

    stack_dir: Path
    kafka_port: int
    kafka_controller_port: int
    hdfs_port: int
    webhdfs_port: int
    datanode_port: int
    datanode_http_port: int
    datanode_ipc_port: int
    topic: str
    topic_partitions: int
    timeout: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> StackSettings:
        """Build the settings from QUESTLOG_* environment variables, with defaults."""
        return cls(
            stack_dir=Path(environ.get("QUESTLOG_STACK_DIR", REPO_ROOT / ".stack")).resolve(),
            kafka_port=int(environ.get("QUESTLOG_KAFKA_PORT", "9092")),
            kafka_controller_port=int(environ.get("QUESTLOG_KAFKA_CONTROLLER_PORT", "9093")),
            hdfs_port=int(environ.get("QUESTLOG_HDFS_PORT", "9000")),
            webhdfs_port=int(environ.get("QUESTLOG_WEBHDFS_PORT", "9870")),
            datanode_port=int(environ.get("QUESTLOG_DATANODE_PORT", "9866")),
            datanode_http_port=int(environ.get("QUESTLOG_DATANODE_HTTP_PORT", "9864")),
            datanode_ipc_port=int(environ.get("QUESTLOG_DATANODE_IPC_PORT", "9867")),
            topic=environ.get("QUESTLOG_TOPIC", "events"),
            topic_partitions=int(environ.get("QUESTLOG_TOPIC_PARTITIONS", "3")),
            timeout=float(environ.get("QUESTLOG_STACK_TIMEOUT", "120")),
        )

    @property
    def kafka_bootstrap(self) -> str:
        """Bootstrap servers for Kafka clients."""
        return f"localhost:{self.kafka_port}"

    @property
    def hdfs_url(self) -> str:
        """The HDFS file system URL (fs.defaultFS)."""
        return f"hdfs://localhost:{self.hdfs_port}"

    @property
    def webhdfs_url(self) -> str:
        """Base URL of the NameNode's HTTP server (WebHDFS and JMX)."""
        return f"http://localhost:{self.webhdfs_port}"

    @property
    def jars_dir(self) -> Path:
        return self.stack_dir / "jars"

    @property
    def conf_dir(self) -> Path:
        return self.stack_dir / "conf"

    @property
    def data_dir(self) -> Path:
        return self.stack_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.stack_dir / "pids"


# ---------------------------------------------------------------- setup


def read_versions() -> dict[str, str]:
    """The NAME=VALUE pairs of stack/versions.env."""
    versions = {}
    for line in (STACK_SRC / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            versions[name.strip()] = value.strip()
    return versions


def resolve_jars(settings: StackSettings, jar_set: str) -> None:
    """Copy one pom's runtime jars into <stack>/jars/<jar_set>/, unless already done."""
    pom = STACK_SRC / "maven" / jar_set / "pom.xml"
    versions = read_versions()
    # The marker names the versions and the pom's digest, so changing either re-resolves.
    needed = JAR_SETS[jar_set]
    marker_text = "".join(f"{name}={versions[name]}\n" for name in needed)
    marker_text += f"pom.sha256={hashlib.sha256(pom.read_bytes()).hexdigest()}\n"
    target = settings.jars_dir / jar_set
    marker = target / ".resolved"
    if marker.is_file() and marker.read_text() == marker_text:
        print(f"{jar_set} jars: already resolved")
        return
    if shutil.which("mvn") is None:
        raise StackError("mvn is not on PATH; install Maven 3 (apt-get install -y maven)")
    print(f"{jar_set} jars: resolving with Maven ...", flush=True)
    started = time.monotonic()
    # Jars of an older version must not linger next to the new ones.
    shutil.rmtree(target, ignore_errors=True)
    command = ["mvn", "-q", "-B", "-f", str(pom), "package", f"-Dstack.dir={settings.stack_dir}"]
    # KAFKA_VERSION becomes -Dkafka.version=..., the property name the pom uses.
    command += [f"-D{name.lower().replace('_', '.')}={versions[name]}" for name in needed]
    # Delta's artifact names the Spark line it is built for: delta-spark_4.2_2.13.
    spark_line = ".".join(versions["SPARK_VERSION"].split(".")[:2])
    command.append(f"-Dspark.line={spark_line}")
    # Output only matters on failure (-q leaves just errors, plus stray colour codes).
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"Maven could not resolve the {jar_set} jars ({pom}):\n{result.stdout}")
    marker.write_text(marker_text)
    count = len(list(target.glob("*.jar")))
    print(f"{jar_set} jars: {count} jars in {target} ({time.monotonic() - started:.0f} s)")


def jars_resolved(settings: StackSettings, jar_set: str) -> bool:
    """Whether `setup` has copied this jar set."""
    return (settings.jars_dir / jar_set / ".resolved").is_file()


def install_kcat() -> None:
    """Install kcat from Debian packages when it is not on PATH."""
    if shutil.which("kcat"):
        print("kcat: already installed")
        return
    print("kcat: installing with apt-get ...", flush=True)
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "kcat"]):
        try:
            result = subprocess.run(command, stdout=subprocess.DEVNULL)
        except FileNotFoundError:
            raise StackError("kcat is missing and apt-get is not available") from None
        if result.returncode != 0:
            raise StackError(f"kcat is missing and `{' '.join(command)}` failed (are you root?)")
    print("kcat: installed")


def setup(settings: StackSettings) -> None:
    """Resolve every jar set and make sure kcat is installed."""
    for jar_set in JAR_SETS:
        resolve_jars(settings, jar_set)
    install_kcat()


# ---------------------------------------------------------------- configuration


def render(template: Path, target: Path, values: Mapping[str, object]) -> None:
    """Write a ${name} template from stack/conf with the given values."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(string.Template(template.read_text()).substitute(values))


def kafka_config(settings: StackSettings) -> Path:
    """Render server.properties and return its path."""
    target = settings.conf_dir / "kafka" / "server.properties"
    render(
        CONF_SRC / "kafka" / "server.properties",
        target,
        {
            "kafka_port": settings.kafka_port,
            "kafka_controller_port": settings.kafka_controller_port,
            "data_dir": settings.data_dir / "kafka",
        },
    )
    return target


def hadoop_config(settings: StackSettings) -> Path:
    """Render core-site.xml and hdfs-site.xml and return their folder."""
    target = settings.conf_dir / "hadoop"
    values = {
        "hdfs_port": settings.hdfs_port,
        "webhdfs_port": settings.webhdfs_port,
        "datanode_port": settings.datanode_port,
        "datanode_http_port": settings.datanode_http_port,
        "datanode_ipc_port": settings.datanode_ipc_port,
        "data_dir": settings.data_dir,
    }
    for name in ("core-site.xml", "hdfs-site.xml"):
        render(CONF_SRC / "hadoop" / name, target / name, values)
    # The hadoop-hdfs jar on Maven Central lacks the web apps that a Hadoop distribution
    # ships in share/hadoop/hdfs/webapps. The HTTP servers only need their folders on the
    # classpath (WebHDFS and JMX are servlets registered in code), so empty ones stand in.
    for app in ("hdfs", "datanode", "static"):
        (target / "webapps" / app).mkdir(parents=True, exist_ok=True)
    return target


def java() -> str:
    """The java launcher: $JAVA_HOME/bin/java, else the one on PATH."""
    if os.environ.get("JAVA_HOME"):
        return str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise StackError("java is not on PATH; install JDK 17 (apt-get install -y openjdk-17-jdk)")
    return found


def kafka_java(settings: StackSettings, heap: str, log4j2_file: str) -> list[str]:
    """A java command line with the Kafka jars on the classpath, without the main class."""
    return [
        java(),
        heap,
        f"-Dlog4j2.configurationFile={CONF_SRC / 'kafka' / log4j2_file}",
        "-cp",
        f"{settings.jars_dir / 'kafka'}/*",
    ]


def hadoop_java(settings: StackSettings, heap: str) -> list[str]:
    """Render the Hadoop conf; return a java command line with it and the jars, sans main class."""
    conf = hadoop_config(settings)
    return [
        java(),
        heap,
        # Hadoop runs without an installation: these stand in for what its scripts set.
        f"-Dhadoop.home.dir={settings.stack_dir}",
        f"-Dhadoop.log.dir={settings.logs_dir}",
        f"-Dlog4j.configuration=file:{CONF_SRC / 'hadoop' / 'log4j.properties'}",
        "-Djava.net.preferIPv4Stack=true",
        "-cp",
        f"{conf}:{settings.jars_dir / 'hadoop'}/*",
    ]


def service_command(settings: StackSettings, service: str) -> list[str]:
    """The full command line of a service; the questlog.* properties mark it as ours."""
    if service == "kafka":
        command = kafka_java(settings, HEAPS[service], "log4j2.properties")
        arguments = [str(kafka_config(settings))]
    else:
        command = hadoop_java(settings, HEAPS[service])
        arguments = []
    # Tags inserted before -cp so `ps` and running_pid() can tell our processes apart.
    tags = [f"-Dquestlog.service={service}", f"-Dquestlog.stack={settings.stack_dir}"]
    return command[:2] + tags + command[2:] + [MAIN_CLASSES[service], *arguments]


# ---------------------------------------------------------------- processes


def pid_file(settings: StackSettings, service: str) -> Path:
    return settings.pids_dir / f"{service}.pid"


def log_file(settings: StackSettings, service: str) -> Path:
    return settings.logs_dir / f"{service}.log"


def is_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def running_pid(settings: StackSettings, service: str) -> int | None:
    """The pid of our running service, or None; a stale pid file is removed."""
    path = pid_file(settings, service)
    try:
        pid = int(path.read_text().strip())
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        arguments = []
        pid = 0
    ours = {
        f"-Dquestlog.service={service}".encode(),
        f"-Dquestlog.stack={settings.stack_dir}".encode(),
    }
    if pid and ours <= set(arguments) and is_alive(pid):
        return pid
    path.unlink(missing_ok=True)
    return None


def log_report(settings: StackSettings, service: str) -> str:
    """The first error lines of the service's latest run, then the last lines of its log."""
    path = log_file(settings, service)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    # Every start appends a "=== ..." header; the latest run is what went wrong. Very long
    # lines are cut (Hadoop logs its whole classpath at startup).
    run = [line[:500] for line in text.split("\n=== ")[-1].splitlines()]
    tail = run[-LOG_TAIL_LINES:]
    # A failing JVM often logs pages of shutdown chatter after the actual error.
    errors = [
        line
        for line in run[:-LOG_TAIL_LINES]
        if " ERROR " in line or " FATAL " in line or line.startswith("Caused by:")
    ][:10]
    report = [f"--- first errors in {path}:", *errors] if errors else []
    return "\n".join([*report, f"--- last lines of {path}:", *tail])


def run_logged(settings: StackSettings, service: str, step: str, command: list[str]) -> None:
    """Run a one-off step (storage format) to completion, appending its output to the log."""
    with log_file(settings, service).open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        log.flush()
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise StackError(f"{service}: {step} failed\n{log_report(settings, service)}")


def kafka_cluster_id() -> str:
    """A random cluster id in Kafka's format: 16 bytes, URL-safe base64, no padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka avoids ids starting with '-' since command-line parsers take them for options.
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(settings: StackSettings, service: str) -> None:
    """Format a service's storage on its first start; later starts reuse the data."""
    if service == "kafka":
        config = kafka_config(settings)
        if (settings.data_dir / "kafka" / "meta.properties").is_file():
            return
        command = kafka_java(settings, HEAPS["tool"], "tools-log4j2.properties")
        cluster_id = kafka_cluster_id()
        command += ["kafka.tools.StorageTool", "format", "-c", str(config), "-t", cluster_id]
        print("kafka: formatting storage", flush=True)
        run_logged(settings, service, "formatting storage", command)
    elif service == "namenode":
        if (settings.data_dir / "namenode" / "current" / "VERSION").is_file():
            return
        command = hadoop_java(settings, HEAPS[service])
        command += [MAIN_CLASSES[service], "-format", "-nonInteractive"]
        print("namenode: formatting the file system", flush=True)
        run_logged(settings, service, "formatting the file system", command)


def start(settings: StackSettings, service: str) -> int:
    """Start a service in the background and return its pid."""
    for directory in (settings.logs_dir, settings.pids_dir, settings.data_dir):
        directory.mkdir(parents=True, exist_ok=True)
    format_storage(settings, service)
    command = service_command(settings, service)
    with log_file(settings, service).open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {service}\n")
        log.flush()
        # A new session keeps the service alive after this command (or a Ctrl-C) ends.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=settings.stack_dir,
            start_new_session=True,
        )
    pid_file(settings, service).write_text(f"{process.pid}\n")
    # For a few milliseconds after the exec the kernel shows an empty command line, and
    # running_pid() would then take the fresh process for a stranger.
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    while process.poll() is None and not cmdline.read_bytes():
        time.sleep(0.01)
    return process.pid


def stop(settings: StackSettings, service: str) -> None:
    """Stop a service: SIGTERM, then SIGKILL if it has not exited after the grace period."""
    pid = running_pid(settings, service)
    if pid is None:
        print(f"{service}: not running")
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    if is_alive(pid):
        print(f"{service}: no exit after {STOP_GRACE_SECONDS} s, killing pid {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while is_alive(pid):
            time.sleep(0.1)
    # Reap it when this process started it (a test calling start() and stop()).
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    pid_file(settings, service).unlink(missing_ok=True)
    print(f"{service}: stopped (pid {pid})")


# ---------------------------------------------------------------- health checks


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        data += chunk
    return data


def kafka_broker_count(settings: StackSettings, timeout: float = 2.0) -> int:
    """Ask the broker for cluster metadata and return how many live brokers it lists."""
    client_id = b"questlog-stack"
    # Metadata request v4 (the oldest Kafka 4 accepts): header, then no topics and
    # allow_auto_topic_creation=false, so the answer is just the broker list.
    request = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    with socket.create_connection(("localhost", settings.kafka_port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        response = _recv_exact(sock, size)
    # correlation id and throttle time come first, then the length of the broker array.
    (correlation_id, brokers) = struct.unpack_from(">i4xi", response)
    return brokers if correlation_id == 1 else 0


def http_get(url: str, timeout: float = 2.0) -> bytes | None:
    """The body of a 200 answer, or None for anything else (refused, 4xx, 5xx)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read() if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def namenode_info(settings: StackSettings) -> dict | None:
    """The NameNode's NameNodeInfo JMX bean, or None when it does not answer."""
    body = http_get(f"{settings.webhdfs_url}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")
    if body is None:
        return None
    beans = json.loads(body).get("beans", [])
    return beans[0] if beans else None


def hdfs_serves(settings: StackSettings) -> bool:
    """Whether HDFS takes reads and writes: out of safe mode, a live DataNode, WebHDFS up."""
    info = namenode_info(settings)
    if not info or info.get("Safemode") or not json.loads(info.get("LiveNodes") or "{}"):
        return False
    return http_get(f"{settings.webhdfs_url}/webhdfs/v1/?op=LISTSTATUS") is not None


def answers(settings: StackSettings, service: str) -> bool:
    """Whether a service answers requests (not merely whether its process runs)."""
    if service == "kafka":
        try:
            return kafka_broker_count(settings) > 0
        except (OSError, struct.error):
            return False
    if service == "namenode":
        return namenode_info(settings) is not None
    # The DataNode's own web server proves this DataNode is up (the NameNode may still
    # count a previous one as live); hdfs_serves proves it is registered.
    datanode_jmx = (
        f"http://localhost:{settings.datanode_http_port}"
        "/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo"
    )
    return http_get(datanode_jmx) is not None and hdfs_serves(settings)


def wait_until_answers(settings: StackSettings, service: str) -> None:
    """Poll a started service until it answers; fail if it dies or the deadline passes."""
    started = time.monotonic()
    deadline = started + settings.timeout
    while not answers(settings, service):
        if running_pid(settings, service) is None:
            raise StackError(f"{service}: the process exited\n{log_report(settings, service)}")
        if time.monotonic() > deadline:
            raise StackError(
                f"{service}: no answer within {settings.timeout:.0f} s\n"
                + log_report(settings, service)
            )
        time.sleep(POLL_SECONDS)
    print(f"{service}: answers ({time.monotonic() - started:.1f} s)")


# ---------------------------------------------------------------- commands


def up(settings: StackSettings, services: list[str]) -> None:
    """Start the services that are not running, then wait until each one answers."""
    missing = [name for name in ("kafka", "hadoop") if not jars_resolved(settings, name)]
    if missing:
        raise StackError(f"no {' or '.join(missing)} jars; run: python -m stack.manager setup")
    lone_datanode = "datanode" in services and "namenode" not in services
    if lone_datanode and running_pid(settings, "namenode") is None:
        raise StackError("datanode: the namenode is not running; run: up namenode datanode")
    # All JVMs boot side by side first: waiting one by one would serialise their startup.
    for service in services:
        pid = running_pid(settings, service)
        if pid is not None:
            print(f"{service}: already running (pid {pid})")
        else:
            print(f"{service}: started (pid {start(settings, service)})", flush=True)
    for service in services:
        wait_until_answers(settings, service)


def down(settings: StackSettings, services: list[str]) -> None:
    """Stop the services, the DataNode before the NameNode before Kafka."""
    for service in reversed(services):
        stop(settings, service)


def status(settings: StackSettings) -> None:
    """Print one line per service: running or stopped, and whether it answers."""
    for service in SERVICES:
        pid = running_pid(settings, service)
        state = f"running (pid {pid})" if pid else "stopped"
        answer = "answers" if answers(settings, service) else "does not answer"
        print(f"{service:<9} {state:<22} {answer}")


def run_kafka_tool(
    main_class: str, *args: str, settings: StackSettings | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a Kafka CLI class (e.g. org.apache.kafka.tools.TopicCommand), capturing its output."""
    settings = settings or StackSettings.from_env()
    command = kafka_java(settings, HEAPS["tool"], "tools-log4j2.properties")
    return subprocess.run([*command, main_class, *args], capture_output=True, text=True)


def _require_kafka(settings: StackSettings) -> None:
    # Kafka's admin client would otherwise retry for a minute before giving up.
    if not answers(settings, "kafka"):
        raise StackError(f"kafka does not answer on {settings.kafka_bootstrap}; run: up kafka")


def _print_tool_result(result: subprocess.CompletedProcess[str], what: str) -> None:
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise StackError(f"{what} failed (exit {result.returncode})")


def create_topic(settings: StackSettings, name: str, partitions: int) -> None:
    """Create a topic with one replica per partition, unless it exists."""
    _require_kafka(settings)
    result = run_kafka_tool(
        "org.apache.kafka.tools.TopicCommand",
        "--create",
        "--topic", name,
        "--partitions", str(partitions),
        "--replication-factor", "1",
        "--if-not-exists",
        "--bootstrap-server", settings.kafka_bootstrap,
        settings=settings,
    )  # fmt: skip
    _print_tool_result(result, f"creating topic {name}")
    print(f"topic {name}: exists")


def describe_topic(settings: StackSettings, name: str) -> None:
    """Print a topic's partitions, leaders and configuration."""
    _require_kafka(settings)
    result = run_kafka_tool(
        "org.apache.kafka.tools.TopicCommand",
        "--describe",
        "--topic", name,
        "--bootstrap-server", settings.kafka_bootstrap,
        settings=settings,
    )  # fmt: skip
    _print_tool_result(result, f"describing topic {name}")


# ---------------------------------------------------------------- the landing service

LANDING = "landing"
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def landing_command(settings: StackSettings) -> list[str]:
    """spark-submit of the landing job in service mode, tagged like the other services."""
    tags = f"-Dquestlog.service={LANDING} -Dquestlog.stack={settings.stack_dir}"
    return [
        str(VENV_BIN / "spark-submit"),
        "--driver-java-options",
        tags,
        str(REPO_ROOT / "streaming" / "land_events.py"),
        "--service",
    ]


def stream_start(settings: StackSettings) -> None:
    """Start the landing job in the background (micro-batches until stopped)."""
    pid = running_pid(settings, LANDING)
    if pid is not None:
        print(f"{LANDING}: already running (pid {pid})")
        return
    for service in SERVICES:
        if not answers(settings, service):
            raise StackError(f"{service} does not answer; run: make up")
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    settings.pids_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SPARK_CONF_DIR": str(settings.conf_dir / "spark"),
        "PYSPARK_PYTHON": str(VENV_BIN / "python"),
        "PYSPARK_DRIVER_PYTHON": str(VENV_BIN / "python"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }
    with log_file(settings, LANDING).open("a") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {LANDING}\n")
        log.flush()
        process = subprocess.Popen(
            landing_command(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
    pid_file(settings, LANDING).write_text(f"{process.pid}\n")
    # spark-submit execs into the driver JVM; wait until its tagged command line shows.
    deadline = time.monotonic() + settings.timeout
    while running_pid_quiet(settings, LANDING) is None:
        if process.poll() is not None:
            raise StackError(f"{LANDING}: exited\n{log_report(settings, LANDING)}")
        if time.monotonic() > deadline:
            raise StackError(f"{LANDING}: did not start\n{log_report(settings, LANDING)}")
        time.sleep(0.1)
    print(f"{LANDING}: started (pid {process.pid}); batches log to {log_file(settings, LANDING)}")


def running_pid_quiet(settings: StackSettings, service: str) -> int | None:
    """Like running_pid, but leaves the pid file of a process still being exec'd."""
    try:
        pid = int(pid_file(settings, service).read_text().strip())
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    tag = f"-Dquestlog.service={service}".encode()
    return pid if tag in arguments and is_alive(pid) else None


def stream_status(settings: StackSettings) -> None:
    """Whether the landing job runs, and its latest micro-batch."""
    pid = running_pid(settings, LANDING)
    print(f"{LANDING:<9} {f'running (pid {pid})' if pid else 'stopped'}")
    from streaming.batch_record import read_records

    try:
        batches = read_records(log_file(settings, LANDING).read_text(errors="replace"))
    except OSError:
        return
    if batches:
        print(f"latest batch: {batches[-1].to_line()}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    settings = StackSettings.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m stack.manager",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="resolve the jars and install kcat")
    for name, text in (("up", "start services"), ("down", "stop services")):
        command = commands.add_parser(name, help=text)
        command.add_argument("services", nargs="*", metavar="service", help=", ".join(SERVICES))
    commands.add_parser("status", help="show which services run and answer")
    topic = commands.add_parser("topic", help="create a topic if it does not exist")
    topic.add_argument("--name", default=settings.topic)
    topic.add_argument("--partitions", type=int, default=settings.topic_partitions)
    stream = commands.add_parser("stream", help="the landing job as a background service")
    stream.add_argument("action", choices=["start", "status", "stop"])
    describe = commands.add_parser("describe", help="describe a topic")
    describe.add_argument("--name", default=settings.topic)
    args = parser.parse_args(argv)

    named = getattr(args, "services", [])
    unknown = sorted(set(named) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service {', '.join(unknown)} (choose from {', '.join(SERVICES)})")
    # Services always go in the canonical order, whatever order they were named in.
    services = [name for name in SERVICES if name in named]
    try:
        if args.command == "setup":
            setup(settings)
        elif args.command == "up":
            up(settings, services or list(SERVICES))
        elif args.command == "down":
            if not services:
                stop(settings, LANDING)
            down(settings, services or list(SERVICES))
        elif args.command == "stream":
            {"start": stream_start, "status": stream_status}.get(
                args.action, lambda s: stop(s, LANDING)
            )(settings)
        elif args.command == "status":
            status(settings)
        elif args.command == "topic":
            create_topic(settings, args.name, args.partitions)
        elif args.command == "describe":
            describe_topic(settings, args.name)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
