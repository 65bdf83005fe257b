"""The stack's jars, resolved by Maven from stack/maven/*/pom.xml; versions in versions.env."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

from stack.processes import StackError
from stack.settings import StackSettings

STACK_SRC = Path(__file__).resolve().parent
JAR_SETS = {
    # jar set -> the versions.env entries its pom needs
    "kafka": ("KAFKA_VERSION", "SCALA_BINARY_VERSION"),
    "hadoop": ("HADOOP_VERSION",),
    "spark": ("SPARK_VERSION", "SCALA_BINARY_VERSION", "DELTA_VERSION"),
}


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
    """Copy one pom's runtime jars into <jars>/<jar_set>/, unless already done."""
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
    command = ["mvn", "-q", "-B", "-f", str(pom), "package", f"-Dstack.dir={settings.jars_home}"]
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


def require_jars(settings: StackSettings, *jar_sets: str) -> None:
    """Fail with the command to run when `setup` has not copied these jar sets."""
    missing = [name for name in jar_sets if not (settings.jars_dir / name / ".resolved").is_file()]
    if missing:
        raise StackError(f"no {' or '.join(missing)} jars; run: make setup")


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
