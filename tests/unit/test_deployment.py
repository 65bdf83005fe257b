"""The cluster deployment agrees with the local stack: docker-compose.yml, Dockerfile, versions.

No container engine is needed: a Compose implementation validates and resolves
docker-compose.yml (`docker-compose config`, installed by `make setup`), hadolint lints the
Dockerfile, and the rest compares what they declare with the settings and versions the code
reads. `make compose-test` starts the images for real (docs/cluster.md).
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from packaging.requirements import Requirement

from ingest.settings import IngestSettings, ServingSettings
from lake.settings import LakeSettings
from runtime.settings import variable_names
from stack import compose
from stack.compose import TARGETS, image_tag
from stack.jars import read_versions
from stack.processes import StackError
from stack.services import HDFS_CLUSTER_ID
from stack.settings import StackSettings, env_variable_names
from stack.spark_conf import COMPOSE_HOME, compose_defaults

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
# Publishes Kafka, HDFS and Spark on 127.0.0.1 for an operator on the server.
OPS_COMPOSE_FILE = REPO / "docker-compose.ops.yml"
DOCKERFILE = REPO / "Dockerfile"
PROMETHEUS_CONFIG = REPO / "ops" / "prometheus" / "compose.yml"
# Read by the ops processes (the lag exporter, the batch jobs' push to the Pushgateway).
OPS_SETTINGS = {"QUESTLOG_LAG_METRICS_BIND", "QUESTLOG_PUSHGATEWAY_URL"}
FIRST_PARTY = {
    *("events", "runtime", "ingest", "lake", "jobs", "streaming", "stack", "simulator", "bench")
}
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|cmake|[a-z0-9.+-]+-dev)\b")


def canonical(name: str) -> str:
    """A distribution name as pip compares them (`Flask`, `python_json_logger` -> lower, dashes)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------- docker-compose.yml


@functools.cache
def compose_config(*files: Path) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` on the files (the main one, then overrides), with none of this
    shell's QUESTLOG_* or COMPOSE_*."""
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is not installed: run `make setup`"
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("QUESTLOG_", "COMPOSE_", "DOCKER_"))
    }
    named = [word for file in (COMPOSE_FILE, *files) for word in ("-f", str(file))]
    command = [tool, "--project-directory", str(REPO), *named, "config"]
    return subprocess.run(command, capture_output=True, text=True, env=environ, cwd=REPO)


def resolved_services(*files: Path) -> dict[str, dict]:
    """The services as Compose resolves them: variables filled in, YAML anchors merged."""
    result = compose_config(*files)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return resolved_services()


@pytest.fixture(scope="module")
def operator_services() -> dict[str, dict]:
    """With the operator's override, which publishes Kafka, HDFS and Spark on 127.0.0.1."""
    return resolved_services(OPS_COMPOSE_FILE)


def questlog_env(service: dict) -> dict[str, str]:
    environment = service.get("environment", {})
    return {name: str(value) for name, value in environment.items() if name.startswith("QUESTLOG_")}


def container_ports(service: dict) -> set[int]:
    """The container side of each published port (Compose writes long or short syntax)."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            ports.add(int(str(port).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def url_port(url: str) -> int:
    return urlparse(url if "://" in url else f"//{url}").port


@pytest.mark.tools  # docker-compose
@pytest.mark.parametrize("overrides", [(), (OPS_COMPOSE_FILE,)], ids=["main", "with-ops"])
def test_compose_file_passes_docker_compose_config(overrides):
    result = compose_config(*overrides)
    assert result.returncode == 0, result.stderr
    # Warnings (an unset variable, say) count as errors.
    assert result.stderr.strip() == ""


def published(service: dict) -> list[tuple[str, int]]:
    """Each published port as (host address, container port); "" is every interface."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((port.get("host_ip", ""), int(port["target"])))
        else:
            *host, _, container = str(port).split(":")
            ports.append((host[0] if host else "", int(container.split("/")[0])))
    return ports


@pytest.mark.tools  # docker-compose
def test_only_the_api_is_published_to_other_machines_and_the_notebook_to_this_one(services):
    exposed = {name: published(service) for name, service in services.items() if published(service)}
    assert exposed == {"ingest": [("0.0.0.0", 5000)], "jupyter": [("127.0.0.1", 8888)]}


@pytest.mark.tools  # docker-compose
def test_the_operators_override_publishes_only_on_this_machine(services, operator_services):
    added = {
        name: published(service)
        for name, service in operator_services.items()
        if published(service) != published(services[name])
    }
    assert set(added) == {"kafka-1", "kafka-2", "kafka-3", "namenode", "spark-master", "prometheus"}
    assert all(host == "127.0.0.1" for ports in added.values() for host, _ in ports), added


@pytest.mark.tools  # docker-compose
def test_every_service_has_a_health_check_or_is_a_one_shot(services):
    awaited = {
        name
        for service in services.values()
        for name, condition in service.get("depends_on", {}).items()
        if condition["condition"] == "service_completed_successfully"
    }
    for name, service in services.items():
        if "healthcheck" in service:
            # ["NONE"] turns a health check off.
            assert service["healthcheck"]["test"][0] != "NONE", name
            continue
        one_shot = name in awaited or "profiles" in service
        assert one_shot and service.get("restart") == "no", f"{name} has no health check"


@pytest.mark.tools  # docker-compose
def test_long_running_services_start_only_after_what_they_need_is_healthy(services):
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            healthy = "healthcheck" in services[needed]
            expected = "service_healthy" if healthy else "service_completed_successfully"
            assert condition["condition"] == expected, f"{name} -> {needed}"


@pytest.mark.tools  # docker-compose
def test_kafka_and_hdfs_keep_their_data_in_named_volumes(services):
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    named = set(raw["volumes"])
    sources = []
    for name in nodes(services, "kafka"):
        log_dir = services[name]["environment"]["KAFKA_LOG_DIRS"]
        (mount,) = raw["services"][name]["volumes"]
        source, target = mount.split(":")
        assert source in named and target == log_dir, name
        sources.append(source)
    for name in ["namenode", *nodes(services, "datanode")]:
        (mount,) = raw["services"][name]["volumes"]
        source, target = mount.split(":")
        assert source in named and target == "/data", name
        sources.append(source)
    assert len(set(sources)) == len(sources), "two nodes share a volume"
    hadoop_env = services["namenode"]["environment"]
    assert hadoop_env["HDFS-SITE.XML_dfs.namenode.name.dir"].startswith("file:///data/")
    assert hadoop_env["HDFS-SITE.XML_dfs.datanode.data.dir"].startswith("file:///data/")


def image_target(service: dict) -> str:
    """The Dockerfile target a service's image is built from (questlog/<target>:<version>)."""
    return service["image"].split("/", 1)[1].split(":")[0]


@pytest.mark.tools  # docker-compose
def test_every_image_is_a_target_of_the_dockerfile_that_stack_compose_builds(services):
    stages = dockerfile_stages()
    assert set(TARGETS) <= set(stages)
    for name, service in services.items():
        assert "build" not in service, f"{name}: images are built by `python -m stack.compose`"
        assert service["image"] == image_tag(image_target(service)), name
        assert image_target(service) in TARGETS, name
    assert {image_target(service) for service in services.values()} == set(TARGETS)


@pytest.mark.tools  # docker-compose
def test_jvm_images_run_the_jars_of_the_local_stack(services):
    """Kafka, Hadoop and Spark's connectors: the jars stack/maven/*/pom.xml resolve, at the
    versions of stack/versions.env, copied from where `make setup` puts them."""
    copies = {
        stage: [arguments for instruction, arguments in steps if instruction == "COPY"]
        for stage, steps in dockerfile_stages().items()
    }
    assert ".stack/jars/kafka/ /opt/kafka/libs/" in copies["kafka"]
    assert ".stack/jars/hadoop/ /opt/hadoop/lib/" in copies["hadoop"]
    assert ".stack/jars/spark/ /opt/questlog/jars/spark/" in copies["spark"]
    for name in [*nodes(services, "kafka"), "kafka-topics"]:
        assert image_target(services[name]) == "kafka", name
    for name in ["namenode", *nodes(services, "datanode")]:
        assert image_target(services[name]) == "hadoop", name


def test_pyspark_pin_equals_spark_version():
    spark = read_versions()["SPARK_VERSION"]
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'"pyspark==([^"]+)"', pyproject).group(1) == spark
    assert lock_pins()["pyspark"] == spark


def test_spark_pom_resolves_the_versions_of_stack_versions_env():
    """The Kafka connector and Delta the spark image copies (stack/maven/spark/pom.xml)."""
    pom = ET.parse(REPO / "stack" / "maven" / "spark" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    artifacts = [
        d.find("m:artifactId", ns).text for d in pom.findall("m:dependencies/m:dependency", ns)
    ]
    assert "spark-sql-kafka-0-10_${scala.binary.version}" in artifacts
    assert "delta-spark_${spark.line}_${scala.binary.version}" in artifacts


def test_delta_spark_pin_equals_the_delta_jars():
    assert lock_pins()["delta-spark"] == read_versions()["DELTA_VERSION"]


@pytest.mark.tools  # docker-compose
def test_executors_run_the_drivers_image(services):
    """The landing job runs Python on its executors (the record checks): the master and the
    workers run the drivers' image, so Python, Java, packages and code agree."""
    assert dockerfile_stages()["landing"][0][1] == "spark AS landing"
    assert image_target(services["landing"]) == "landing"
    for name in ["marts", "lag-exporter", "spark-master", *nodes(services, "spark-worker")]:
        assert image_target(services[name]) == "spark", name
    assert "spark-class org.apache.spark.deploy.worker.Worker" in " ".join(
        services["spark-worker-1"]["command"]
    )


# ---------------------------------------------------------------- one configuration surface


def known_setting_names() -> set[str]:
    """Every QUESTLOG_* variable the code reads: the settings classes' fields, the stack's."""
    names = set().union(
        *(variable_names(settings) for settings in (LakeSettings, IngestSettings, ServingSettings))
    )
    return names | env_variable_names()


@pytest.mark.tools  # docker-compose
def test_compose_sets_only_variables_the_code_reads(services):
    known = known_setting_names()
    for name, service in services.items():
        unknown = set(questlog_env(service)) - known - OPS_SETTINGS
        assert not unknown, f"{name} sets {sorted(unknown)}, which no questlog code reads"


@pytest.mark.tools  # docker-compose
def test_every_service_reads_the_same_value_of_a_setting(services):
    values: dict[str, set[str]] = {}
    for service in services.values():
        for variable, value in questlog_env(service).items():
            values.setdefault(variable, set()).add(value)
    assert {variable: len(seen) for variable, seen in values.items()} == dict.fromkeys(values, 1)


@pytest.mark.tools  # docker-compose
def test_settings_objects_build_from_the_compose_environment(services):
    lake_default, ingest_default = LakeSettings(), IngestSettings()
    for name in ("ingest", "landing", "marts", "jupyter"):
        # The keys come from the operator's shell (the ingest refuses to start without).
        environ = {
            **questlog_env(services[name]),
            "QUESTLOG_API_KEYS": "k" * 32 + "=events:write:any",
        }
        lake = LakeSettings.from_env(environ)
        ingest = IngestSettings.from_env(environ)
        brokers = ",".join(f"{broker}:9092" for broker in nodes(services, "kafka"))
        assert lake.kafka_bootstrap == ingest.kafka_bootstrap == brokers, name
        assert lake.lake_root == ingest.lake_root, name
        assert lake.webhdfs_url == ingest.webhdfs_url, name
        # The topic and the lake's layout are those of the local stack; only hosts differ.
        assert lake.topic == ingest.topic == lake_default.topic == ingest_default.topic
        assert urlparse(lake.lake_root).path == urlparse(lake_default.lake_root).path
        assert lake.events_path == "hdfs://namenode:9000/questlog/lake/events"


@pytest.mark.tools  # docker-compose
def test_compose_runs_the_ingest_in_production_mode_refusing_to_start_without_keys(services):
    environ = questlog_env(services["ingest"])
    assert environ["QUESTLOG_ENV"] == "production"
    with pytest.raises(ValueError, match="QUESTLOG_API_KEYS"):
        IngestSettings.from_env(environ)
    keyed = IngestSettings.from_env(
        {**environ, "QUESTLOG_API_KEYS": "k" * 32 + "=events:write:any"}
    )
    assert keyed.seed_routes == "key"


@pytest.mark.tools  # docker-compose
def test_containers_listen_on_the_ports_of_the_local_stack(services, operator_services):
    stack = StackSettings.from_env({})
    lake = LakeSettings.from_env(questlog_env(services["landing"]))
    hadoop = services["namenode"]["environment"]
    for name in nodes(services, "kafka"):
        kafka = services[name]["environment"]
        listeners = dict(item.split("://") for item in kafka["KAFKA_LISTENERS"].split(","))
        assert url_port(listeners["PLAINTEXT"]) == stack.kafka_port
        assert url_port(listeners["CONTROLLER"]) == stack.kafka_controller_port
        for voter in kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","):
            assert voter.endswith(f":{stack.kafka_controller_port}")
    for broker in lake.kafka_bootstrap.split(","):
        assert url_port(broker) == stack.kafka_port

    default_fs = hadoop["CORE-SITE.XML_fs.defaultFS"]
    assert url_port(default_fs) == stack.hdfs_port == url_port(lake.lake_root)
    assert lake.lake_root.startswith(f"{default_fs}/")
    http_address = hadoop["HDFS-SITE.XML_dfs.namenode.http-address"]
    assert url_port(http_address) == stack.webhdfs_port == url_port(lake.webhdfs_url)
    assert 9870 in container_ports(operator_services["namenode"])

    image_bind = re.search(r"QUESTLOG_INGEST_BIND=(\S+)", DOCKERFILE.read_text())
    assert ServingSettings().port == url_port(image_bind.group(1)) == 5000
    assert container_ports(services["ingest"]) == {5000}


@pytest.mark.tools  # docker-compose
def test_topic_is_created_as_the_local_stack_creates_it(services):
    stack = StackSettings.from_env({})
    environ = questlog_env(services["kafka-topics"])
    assert environ["QUESTLOG_TOPIC"] == stack.topic == LakeSettings().topic
    assert int(environ["QUESTLOG_TOPIC_PARTITIONS"]) == stack.topic_partitions
    # Compose keeps `$$` (a literal `$` for the container's shell) escaped in its output.
    script = " ".join(services["kafka-topics"]["command"]).replace("$$", "$")
    for variable in ("QUESTLOG_KAFKA_BOOTSTRAP", "QUESTLOG_TOPIC", "QUESTLOG_TOPIC_PARTITIONS"):
        assert f'"${variable}"' in script


# ---------------------------------------------------------------- the cluster topology


def nodes(services: dict[str, dict], kind: str) -> list[str]:
    """The numbered services of a kind (kafka-1, kafka-2, ...), in order."""
    return sorted(name for name in services if re.fullmatch(rf"{kind}-\d+", name))


@pytest.fixture(scope="module")
def cluster() -> StackSettings:
    return StackSettings.from_env({}, topology="cluster")


def host_ports(service: dict) -> dict[int, int]:
    """Published ports: container port -> host port."""
    published = {}
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published[int(port["target"])] = int(port["published"])
        else:
            *_, host, container = str(port).split(":")
            published[int(container.split("/")[0])] = int(host)
    return published


def submit_conf(command: list[str]) -> dict[str, str]:
    """The --conf key=value pairs of a spark-submit command line."""
    return dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "--conf")


@pytest.mark.tools  # docker-compose
def test_compose_runs_the_brokers_of_the_cluster_topology(services, operator_services, cluster):
    brokers = nodes(services, "kafka")
    assert len(brokers) == cluster.brokers
    for index, name in enumerate(brokers, start=1):
        kafka = services[name]["environment"]
        assert kafka["KAFKA_NODE_ID"] == str(index)
        voters = kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert [voter.split("@")[0] for voter in voters] == [str(i) for i in cluster.broker_ids]
        for key in ("DEFAULT_REPLICATION_FACTOR", "OFFSETS_TOPIC_REPLICATION_FACTOR",
                    "TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                    "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR"):  # fmt: skip
            assert int(kafka[f"KAFKA_{key}"]) == cluster.brokers, (name, key)
        for key in ("MIN_INSYNC_REPLICAS", "TRANSACTION_STATE_LOG_MIN_ISR",
                    "SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR"):  # fmt: skip
            assert int(kafka[f"KAFKA_{key}"]) == cluster.min_insync_replicas, (name, key)
        # Tools on this machine reach broker i where the local cluster topology has it.
        assert host_ports(operator_services[name]) == {9094: cluster.broker_port(index)}
        assert f"localhost:{cluster.broker_port(index)}" in kafka["KAFKA_ADVERTISED_LISTENERS"]


def fixed_broker_settings() -> dict[str, str]:
    """The settings of stack/conf/kafka/server.properties that are the same on every node
    (no `${...}` placeholder)."""
    template = (
        Path(__file__).resolve().parents[2] / "stack" / "conf" / "kafka" / "server.properties"
    )
    settings = {}
    for line in template.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "${" not in line:
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


@pytest.mark.tools  # docker-compose
def test_compose_brokers_fail_over_as_the_local_stacks(services):
    """A dead broker is fenced after the same session timeout in both deployments."""
    fixed = fixed_broker_settings()
    for key in ("broker.session.timeout.ms", "broker.heartbeat.interval.ms",
                "controller.quorum.fetch.timeout.ms"):  # fmt: skip
        variable = "KAFKA_" + key.upper().replace(".", "_")
        for name in nodes(services, "kafka"):
            assert services[name]["environment"][variable] == fixed[key], (name, key)


@pytest.mark.tools  # docker-compose
def test_topic_is_created_with_the_cluster_topologys_replication(services, cluster):
    script = " ".join(services["kafka-topics"]["command"])
    assert f"--replication-factor {cluster.brokers}" in script
    assert f"--config min.insync.replicas={cluster.min_insync_replicas}" in script
    for name in nodes(services, "kafka"):
        assert services["kafka-topics"]["depends_on"][name]["condition"] == "service_healthy"


@pytest.mark.tools  # docker-compose
def test_compose_runs_the_hdfs_of_the_cluster_topology(services, operator_services, cluster):
    datanodes = nodes(services, "datanode")
    assert len(datanodes) == cluster.datanodes
    for name in ["namenode", *datanodes]:
        environment = services[name]["environment"]
        assert int(environment["HDFS-SITE.XML_dfs.replication"]) == cluster.dfs_replication
        # The image owns /data: a fresh named volume is the image's user's, no root needed.
        assert "user" not in services[name], name
    for name in datanodes:
        assert services[name]["hostname"] == name
        assert services[name]["environment"]["HDFS-SITE.XML_dfs.datanode.hostname"] == name
        # Live at the NameNode, not merely up.
        assert "hdfs.sh healthy" in " ".join(services[name]["healthcheck"]["test"])
    namenode = services["namenode"]["environment"]
    assert namenode["HDFS_CLUSTER_ID"] == HDFS_CLUSTER_ID
    single = StackSettings.from_env({})
    assert host_ports(operator_services["namenode"]) == {single.webhdfs_port: cluster.webhdfs_port}


def compose_spark_conf(cluster: StackSettings, tmp_path: Path) -> dict[str, str]:
    """The spark image's spark-defaults.conf entries, with a stand-in jar."""
    (tmp_path / "jars" / "spark").mkdir(parents=True)
    (tmp_path / "jars" / "spark" / "connector.jar").touch()
    return compose_defaults(cluster, tmp_path)


@pytest.mark.tools  # docker-compose
def test_spark_writers_use_the_cluster_topologys_replication(services, cluster, tmp_path):
    conf = compose_spark_conf(cluster, tmp_path)
    assert conf["spark.hadoop.dfs.replication"] == str(cluster.dfs_replication)
    hadoop = services["namenode"]["environment"]
    assert hadoop["HDFS-SITE.XML_dfs.replication"] == str(cluster.dfs_replication)


@pytest.mark.tools  # docker-compose
def test_the_spark_images_conf_is_the_cluster_topologys_with_the_containers_names(
    services, cluster, tmp_path
):
    """One source (stack/spark_conf.py) writes every topology's Spark conf; the image's is
    the local cluster's with the master's service name and the image's paths."""
    from stack.spark_conf import cluster_defaults

    conf = compose_spark_conf(cluster, tmp_path)
    local = cluster_defaults(replace(cluster, jars_home=tmp_path))
    differ = {key for key in conf.keys() | local.keys() if conf.get(key) != local.get(key)}
    assert conf.keys() == local.keys()
    assert differ <= {
        "spark.master", "spark.jars", "spark.sql.warehouse.dir", "spark.driver.extraJavaOptions",
        "spark.hadoop.javax.jdo.option.ConnectionURL", "spark.pyspark.driver.python",
        "spark.pyspark.python", "spark.executorEnv.PYTHONPATH",
    }  # fmt: skip
    assert conf["spark.master"] == "spark://spark-master:7077"
    assert "spark-master" in services and submit_conf(services["spark-master"]["command"]) == {}
    assert conf["spark.sql.shuffle.partitions"] == str(2 * cluster.spark_workers)
    assert "spark.databricks.delta.snapshotPartitions" in conf
    run = [args for instruction, args in dockerfile_stages()["spark"] if instruction == "RUN"]
    assert any("stack.spark_conf compose" in args for args in run)
    env = dict(dockerfile_stages()["spark"])["ENV"]
    assert f"SPARK_CONF_DIR={COMPOSE_HOME}/conf/spark" in env


@pytest.mark.tools  # docker-compose
def test_compose_runs_the_spark_workers_of_the_cluster_topology(
    services, operator_services, cluster
):
    workers = nodes(services, "spark-worker")
    assert len(workers) == cluster.spark_workers
    for name in workers:
        command = " ".join(services[name]["command"])
        assert f"--cores {cluster.worker_cores}" in command
        assert f"--memory {cluster.worker_memory}" in command
        assert services[name]["hostname"] == name
        # Registered with the master, not merely up.
        check = " ".join(services[name]["healthcheck"]["test"])
        script = REPO / check.split("/app/", 1)[1]
        assert "spark-master:8080/json/" in script.read_text()
    assert host_ports(operator_services["spark-master"]) == {8080: cluster.spark_ui_port}


@pytest.mark.tools  # docker-compose
def test_prometheus_scrapes_every_metrics_port_of_the_compose_network(services):
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    binds = {
        "ingest": services["ingest"]["environment"]["QUESTLOG_OPS_BIND"],
        "landing": services["landing"]["environment"]["QUESTLOG_LANDING_METRICS_BIND"],
        "lag-exporter": services["lag-exporter"]["environment"]["QUESTLOG_LAG_METRICS_BIND"],
    }
    for service, bind in binds.items():
        assert targets[service] == [f"{service}:{url_port(bind)}"], service
    assert targets["prometheus"] == ["prometheus:9090"]
    assert targets["pushgateway"] == ["pushgateway:9091"]
    assert next(j for j in config["scrape_configs"] if j["job_name"] == "pushgateway")[
        "honor_labels"
    ]
    assert config["rule_files"] == ["/etc/questlog/alerts.yml"]
    gateway = services["landing"]["environment"]["QUESTLOG_PUSHGATEWAY_URL"]
    assert gateway == "http://pushgateway:9091"
    for target in (t for ts in targets.values() for t in ts):
        assert target.split(":")[0] in services, target


# ---------------------------------------------------------------- Dockerfile


@functools.cache
def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's stages by name, each a list of (INSTRUCTION, arguments)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: dict[str, list[tuple[str, str]]] = {}
    stage = None  # before the first FROM: the global ARGs (the base image)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            words = arguments.split()
            stage = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages[stage] = []
        if stage is not None:
            stages[stage].append((instruction.upper(), arguments.strip()))
    return stages


def in_build_context(path: str) -> bool:
    """Whether .dockerignore lets `path` into the build context: its last matching pattern
    decides, a `!` pattern lets in, and a pattern that matches a folder matches what is in
    it (Docker's rules)."""
    let_in = True
    path = path.rstrip("/")
    for line in (REPO / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parents = ["/".join(path.split("/")[:end]) for end in range(1, path.count("/") + 2)]
        if any(fnmatch.fnmatch(parent, pattern) for parent in parents):
            let_in = negated
    return let_in


def build_context_sources() -> dict[str, set[str]]:
    """The sources each stage takes from the build context: COPY's, and RUN's bind mounts."""
    sources: dict[str, set[str]] = {}
    for stage, steps in dockerfile_stages().items():
        for instruction, arguments in steps:
            if instruction == "COPY" and "--from=" not in arguments:
                # COPY [--option ...] source ... destination
                words = [w for w in arguments.split() if not w.startswith("--")][:-1]
                sources.setdefault(stage, set()).update(words)
            if instruction == "RUN":
                for mount in re.findall(r"--mount=type=bind,source=([^,\s]+)", arguments):
                    sources.setdefault(stage, set()).add(mount)
    return sources


def test_every_file_the_dockerfile_copies_is_in_the_build_context():
    """Each target copies only what .dockerignore lets in, and what the repository holds
    (or `python -m stack.compose build` prepares in .stack/)."""
    sources = build_context_sources()
    copied = set().union(*sources.values())
    assert {"events/", "runtime/", "stack/", "requirements.lock", ".stack/wheels"} <= copied
    assert [path for path in sorted(copied) if not in_build_context(path)] == []
    for path in sorted(copied):
        if not path.startswith(".stack/"):
            assert (REPO / path).exists(), f"the Dockerfile copies {path}, which is not here"
    assert not in_build_context("tests/")  # the context stays small
    assert not in_build_context(".stack/data/kafka")
    assert not in_build_context("stack/__pycache__/x.pyc")


def final_stages(services: dict[str, dict]) -> set[str]:
    """The stages that become images: compose's images' targets and the default (last) one."""
    targets = {image_target(s) for s in services.values()}
    return targets | {list(dockerfile_stages())[-1]}


def image_packages(stage: str) -> list[str]:
    """The package names a stage's `ARG <...>_PACKAGES="..."` lists."""
    for instruction, arguments in dockerfile_stages()[stage]:
        if instruction == "ARG" and re.match(r"[A-Z_]+_PACKAGES=", arguments):
            return arguments.split("=", 1)[1].strip('"').split()
    raise AssertionError(f"stage {stage} lists no packages")


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    assert hadolint, "hadolint is not installed: run `make setup`"
    command = [hadolint, "--no-color", str(DOCKERFILE)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_image_starts_from_the_one_debian_base_of_a_build_argument():
    stages = dockerfile_stages()
    base = re.search(r"^ARG BASE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE).group(1)
    assert base == "debian:bookworm-slim"
    for stage, instructions in stages.items():
        image = instructions[0][1].split()[0]
        assert image in stages or image == "${BASE}", f"{stage}: from {image}"


def stage_chain(stage: str) -> list[str]:
    """The stage and those it is built FROM, nearest first."""
    stages = dockerfile_stages()
    chain = [stage]
    while (parent := stages[chain[-1]][0][1].split()[0]) in stages:
        chain.append(parent)
    return chain


@pytest.mark.tools  # docker-compose
def test_images_run_as_a_non_root_user(services):
    for stage in final_stages(services):
        users = [
            args
            for parent in reversed(stage_chain(stage))
            for instruction, args in dockerfile_stages()[parent]
            if instruction == "USER"
        ]
        assert users, f"{stage} does not choose its user"
        assert users[-1].split(":")[0] not in ("root", "0"), stage


@pytest.mark.tools  # docker-compose
def test_images_install_no_build_tools(services):
    for stage in final_stages(services):
        for instruction, arguments in dockerfile_stages()[stage]:
            if instruction == "RUN" and "install" in arguments:
                assert not BUILD_TOOLS.search(arguments.split("install", 1)[1]), stage


def test_ingest_image_serves_with_gunicorn_and_checks_its_health():
    stages = dockerfile_stages()
    ingest = dict(stages["ingest"])
    assert list(stages)[-1] == "ingest", "ingest is the image `docker build .` makes"
    assert "ingest/gunicorn.conf.py" in ingest["CMD"] and "ingest:create_app()" in ingest["CMD"]
    assert "/healthz" in ingest["HEALTHCHECK"]


# ---------------------------------------------------------------- Python packages of the images


def imported_top_level_names(roots: list[Path]) -> set[str]:
    """Third-party modules imported from `roots`, following imports into questlog's own modules.

    Every import counts, also those inside functions (ingest loads `ingest.players` lazily).
    """
    todo, seen, found = list(roots), set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in FIRST_PARTY:
                    parts = name.split(".")
                    for end in range(1, len(parts) + 1):
                        module = REPO.joinpath(*parts[:end])
                        for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                            if candidate.is_file():
                                todo.append(candidate)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


def distributions_of(module_names: set[str]) -> set[str]:
    """The installed distributions that provide these top-level modules."""
    providers = metadata.packages_distributions()
    missing = module_names - set(providers)
    assert not missing, f"imports of modules no installed package provides: {sorted(missing)}"
    return {canonical(dist) for name in module_names for dist in providers[name]}


def with_dependencies(names: list[str] | set[str]) -> set[str]:
    """The distributions and, recursively, what they require (as installed here, no extras)."""
    todo, closure = [canonical(name) for name in names], set()
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        closure.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonical(requirement.name))
    return closure


def lock_pins() -> dict[str, str]:
    lines = (REPO / "requirements.lock").read_text().split()
    return {canonical(line.split("==")[0]): line.split("==")[1] for line in lines}


@pytest.mark.parametrize(
    ("stage", "sources"),
    [("ingest-deps", ["ingest"]), ("spark-deps", ["streaming", "jobs"])],
)
def test_image_has_every_package_its_code_imports(stage, sources):
    roots = [path for source in sources for path in sorted((REPO / source).glob("*.py"))]
    imported = distributions_of(imported_top_level_names(roots))
    installed = with_dependencies(image_packages(stage))
    assert imported <= installed, f"add to {stage}: {sorted(imported - installed)}"


@pytest.mark.parametrize("stage", ["ingest-deps", "spark-deps"])
def test_every_package_an_image_installs_is_pinned_by_the_lock(stage):
    unpinned = with_dependencies(image_packages(stage)) - set(lock_pins())
    assert not unpinned, f"{stage} installs packages requirements.lock does not pin: {unpinned}"


def test_ingest_image_carries_no_spark():
    assert "pyspark" not in with_dependencies(image_packages("ingest-deps"))


def _engine_host(monkeypatch, tmp_path, probe_stderr: str, runc: bool) -> Path:
    """stack.compose on a host whose first container run says `probe_stderr`."""
    conf = tmp_path / "containers.conf"
    monkeypatch.setattr(compose, "CONTAINERS_CONF", conf)
    probe = subprocess.CompletedProcess(["podman"], 1, "", probe_stderr)
    monkeypatch.setattr(compose, "run", lambda *args, **kwargs: probe)
    tools = {"runc": "/usr/sbin/runc"} if runc else {}
    monkeypatch.setattr(compose.shutil, "which", tools.get)
    return conf


HYBRID = "crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2"


def test_podman_runs_runc_where_crun_cannot_and_keeps_what_was_there(monkeypatch, tmp_path):
    conf = _engine_host(monkeypatch, tmp_path, HYBRID, runc=True)
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n')
    assert compose.configure_podman()
    written = tomllib.loads(conf.read_text())
    assert written["engine"]["runtime"] == "runc"
    assert written["containers"]["default_ulimits"] == ["nofile=4096:4096", "nproc=4096:4096"]
    assert not compose.configure_podman()  # configured: nothing added twice
    assert tomllib.loads(conf.read_text()) == written


def test_podman_without_runc_on_such_a_host_says_what_to_install(monkeypatch, tmp_path):
    _engine_host(monkeypatch, tmp_path, HYBRID, runc=False)
    with pytest.raises(StackError, match="install runc"):
        compose.configure_podman()


def test_podman_where_crun_runs_gets_only_the_limits(monkeypatch, tmp_path):
    conf = _engine_host(monkeypatch, tmp_path, "", runc=False)
    assert compose.configure_podman()
    assert tomllib.loads(conf.read_text()) == {
        "containers": {"default_ulimits": ["nofile=4096:4096", "nproc=4096:4096"]}
    }
