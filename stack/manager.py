"""Run the local questlog stack: Kafka, HDFS and (cluster topology) Spark standalone.

The services are plain `java` processes started from jars that Maven resolves from
stack/maven/*/pom.xml (versions in stack/versions.env only); Spark's master and workers come
from the pyspark install. `--topology single` (the default) is one broker, one NameNode and
one DataNode; `--topology cluster` is three brokers, a NameNode, three DataNodes, a Spark
master and two workers on ports of their own (stack/settings.py).

Usage: python -m stack.manager [--topology single|cluster] <command>

  setup                  resolve the jars (skipped when already there) and install kcat
  up [service ...]       start the topology's services (default: all), wait until they answer
  down [service ...]     stop services (SIGTERM, then SIGKILL after a grace period)
  status                 one line per node of each topology that runs
  topic [--name N] [--partitions P]
                         create the events topic (a replica per broker) if it does not exist
  describe [--name N]    describe a topic
  stream start|status|stop
                         the supervised landing service (stack/landing.py)
  env                    `export` lines pointing clients and Spark jobs at the topology
  scrape JOB HOST:PORT | scrape JOB --remove
                         list (or unlist) a service started on demand for Prometheus
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from stack import landing, processes, prometheus
from stack.jars import read_versions, require_jars, setup
from stack.probes import ready
from stack.processes import StackError, log_report, running_pid
from stack.services import Service, by_name, client_port, command, prepare, services
from stack.settings import TOPOLOGIES, StackSettings
from stack.spark_conf import write_topology_spark_conf
from stack.topics import create_topic, describe_topic, run_kafka_tool

__all__ = ["StackSettings", "main", "read_versions", "run_kafka_tool"]
POLL_SECONDS = 0.5


def wait_until_ready(settings: StackSettings, service: Service) -> None:
    """Poll a started node until it answers; fail if it dies or the deadline passes."""
    started = time.monotonic()
    deadline = started + settings.stack_timeout
    while not ready(settings, service):
        if running_pid(settings, service.name) is None:
            raise StackError(
                f"{service.name}: the process exited\n{log_report(settings, service.name)}"
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"{service.name}: no answer within {settings.stack_timeout:.0f} s\n"
                + log_report(settings, service.name)
            )
        time.sleep(POLL_SECONDS)
    print(f"{service.name}: answers ({time.monotonic() - started:.1f} s)")


def up(settings: StackSettings, names: list[str]) -> None:
    """Start the nodes that are not running, then wait until each one answers."""
    require_jars(settings, "kafka", "hadoop")
    chosen = by_name(settings, names)
    kinds = {service.kind for service in chosen}
    for needs, needed in (("datanode", "namenode"), ("spark-worker", "spark-master")):
        if needs in kinds and needed not in kinds and running_pid(settings, needed) is None:
            raise StackError(f"{needs}: the {needed} is not running; start it too")
    if settings.spark_workers:
        require_jars(settings, "spark")
        write_topology_spark_conf(settings)
    # All JVMs boot side by side first: waiting one by one would serialise their startup.
    for service in chosen:
        pid = running_pid(settings, service.name)
        if pid is not None:
            print(f"{service.name}: already running (pid {pid})")
            continue
        prepare(settings, service)
        line, env = command(settings, service)
        pid = processes.start(settings, service.name, line, env)
        print(f"{service.name}: started (pid {pid})", flush=True)
    for service in chosen:
        wait_until_ready(settings, service)


def down(settings: StackSettings, names: list[str]) -> None:
    """Stop the nodes in reverse start order; stopping all stops the landing service first."""
    if not names:
        landing.stop(settings)
    for service in reversed(by_name(settings, names)):
        processes.stop(settings, service.name)


def runs(settings: StackSettings) -> bool:
    """Whether any node of the topology runs."""
    return any(running_pid(settings, service.name) for service in services(settings))


def status(settings: StackSettings) -> None:
    """One line per node: running or stopped, its port, and whether it answers."""
    print(f"{settings.topology} topology ({settings.stack_dir}):")
    for service in services(settings):
        pid = running_pid(settings, service.name)
        state = f"running (pid {pid})" if pid else "stopped"
        answer = "answers" if pid and ready(settings, service) else "does not answer"
        print(f"  {service.name:<15} :{client_port(settings, service):<6} {state:<22} {answer}")
    print(f"  Prometheus {settings.prometheus_url}   ops page {settings.ops_page_url}")


def print_env(settings: StackSettings) -> None:
    for name, value in settings.client_environment().items():
        print(f"export {name}={shlex.quote(value)}")


def parser_for(settings: StackSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stack.manager",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--topology", choices=TOPOLOGIES)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="resolve the jars and install kcat")
    for name, text in (("up", "start services"), ("down", "stop services")):
        command = commands.add_parser(name, help=text)
        command.add_argument("services", nargs="*", metavar="service")
    commands.add_parser("status", help="show which nodes run and answer")
    topic = commands.add_parser("topic", help="create a topic if it does not exist")
    topic.add_argument("--name")
    topic.add_argument("--partitions", type=int)
    describe = commands.add_parser("describe", help="describe a topic")
    describe.add_argument("--name")
    stream = commands.add_parser("stream", help="the supervised landing service")
    stream.add_argument("action", choices=["start", "status", "stop"])
    commands.add_parser("env", help="export lines for clients of the topology")
    scrape = commands.add_parser("scrape", help="list a running service for Prometheus")
    scrape.add_argument("job", choices=prometheus.ON_DEMAND_JOBS)
    scrape.add_argument("address", nargs="?", metavar="HOST:PORT")
    scrape.add_argument("--remove", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = parser_for(StackSettings()).parse_args(argv)
    settings = StackSettings.from_env(topology=args.topology or "single")
    try:
        if args.command == "setup":
            setup(settings)
        elif args.command == "up":
            up(settings, args.services)
        elif args.command == "down":
            down(settings, args.services)
        elif args.command == "status":
            # Without --topology: the single stack, and the cluster when it runs.
            chosen = [args.topology] if args.topology else TOPOLOGIES
            for topology in chosen:
                each = StackSettings.from_env(topology=topology)
                if topology == "single" or args.topology or runs(each):
                    status(each)
        elif args.command == "topic":
            create_topic(
                settings, args.name or settings.topic, args.partitions or settings.topic_partitions
            )
        elif args.command == "describe":
            describe_topic(settings, args.name or settings.topic)
        elif args.command == "stream":
            {"start": landing.start, "status": landing.status, "stop": landing.stop}[args.action](
                settings
            )
        elif args.command == "env":
            print_env(settings)
        elif args.command == "scrape":
            if args.remove or not args.address:
                prometheus.unlist_target(settings, args.job)
            else:
                prometheus.list_target(settings, args.job, args.address)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
