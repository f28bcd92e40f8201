"""The local stack as a whole: bring both servers up, say how they are, take them down.

``up`` is idempotent: a server that already runs (its pid file names a live process of
this state folder) is only probed, a stale pid file is dropped, and a port held by some
other program is reported instead of starting a second server beside it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra import cassandra, kafka
from infra.process import (
    JavaServer,
    Managed,
    PythonService,
    StackError,
    launch,
    log_tail,
    running_pid,
    terminate,
)
from infra.settings import StackSettings


@dataclass(frozen=True)
class Server:
    name: str
    main_class: str
    prepare: Callable[[StackSettings], JavaServer]  # jars, configuration, storage format
    probe: Callable[[StackSettings], str]  # one real request, raises StackError
    ports: Callable[[StackSettings], list[int]]


SERVERS = (
    Server(
        cassandra.NAME, cassandra.MAIN_CLASS, cassandra.prepare, cassandra.probe, cassandra.ports
    ),
    Server(kafka.NAME, kafka.MAIN_CLASS, kafka.prepare, kafka.probe, kafka.ports),
)


@dataclass(frozen=True)
class ServerStatus:
    name: str
    pid: int | None
    healthy: bool
    detail: str
    rss_mib: float | None
    started_now: bool = False
    seconds_to_ready: float | None = None


Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _wait_ready(server: Server, java: JavaServer, pid: int, settings: StackSettings) -> str:
    deadline = time.monotonic() + settings.start_timeout_s
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if running_pid(java) != pid:
            raise StackError(
                f"{server.name} exited during start-up. Last lines of {java.log_file}:\n"
                f"{log_tail(java.log_file)}"
            )
        try:
            return server.probe(settings)
        except StackError as exc:
            last_error = str(exc)
        time.sleep(0.5)
    raise StackError(
        f"{server.name} did not answer within {settings.start_timeout_s:.0f} s ({last_error}). "
        f"Last lines of {java.log_file}:\n{log_tail(java.log_file)}"
    )


def up(
    settings: StackSettings, report: Report = _quiet, servers: Sequence[Server] = SERVERS
) -> list[ServerStatus]:
    """Start what is not running, then wait until every server answers a real request."""
    prepared: list[tuple[Server, JavaServer, int, bool, float]] = []
    for server in servers:
        report(f"{server.name}: preparing (jars from Maven Central on first use)")
        java = server.prepare(settings)
        pid = running_pid(java)
        started = pid is None
        if pid is None:
            taken = [p for p in server.ports(settings) if _port_taken(p)]
            if taken:
                raise StackError(
                    f"{server.name}: port(s) {taken} are taken by another program, not by this "
                    f"project's {server.name} (no live pid in {java.pid_file}). Stop it, or "
                    "choose other ports with the OCOP_* settings."
                )
            report(f"{server.name}: starting")
            pid = launch(java)
        else:
            report(f"{server.name}: already running (pid {pid})")
        prepared.append((server, java, pid, started, time.monotonic()))
    statuses = []
    for server, java, pid, started, t0 in prepared:
        detail = _wait_ready(server, java, pid, settings)
        ready_s = time.monotonic() - t0 if started else None
        report(f"{server.name}: ready ({detail})")
        statuses.append(
            ServerStatus(server.name, pid, True, detail, rss_mib(pid), started, ready_s)
        )
    return statuses


def status(settings: StackSettings) -> list[ServerStatus]:
    """How each server is, without starting or preparing anything."""
    result = []
    for server in SERVERS:
        java = _recognise(server, settings)
        pid = running_pid(java)
        if pid is None:
            result.append(ServerStatus(server.name, None, False, "not running", None))
            continue
        try:
            detail, healthy = server.probe(settings), True
        except StackError as exc:
            detail, healthy = str(exc), False
        result.append(ServerStatus(server.name, pid, healthy, detail, rss_mib(pid)))
    return result


def down(settings: StackSettings, report: Report = _quiet, only: set[str] | None = None) -> None:
    """Stop the servers this state folder runs (``only`` those named, if given).

    The project's own services (worker, API) first, then Kafka, then Cassandra, so that
    nothing still writing through one waits on the next.
    """
    servers = {server.name for server in SERVERS}
    services: list[Managed] = [
        PythonService(pid_file.stem, settings.state_dir)
        for pid_file in sorted((settings.state_dir / "run").glob("*.pid"))
        if pid_file.stem not in servers
    ]
    for process in services + [_recognise(s, settings) for s in reversed(SERVERS)]:
        if only is not None and process.name not in only:
            continue
        pid = running_pid(process)
        if pid is None:
            if process.name in servers:
                report(f"{process.name}: not running")
            continue
        t0 = time.monotonic()
        clean = terminate(process, pid, settings.stop_timeout_s)
        how = "stopped" if clean else "did not stop in time and was killed"
        report(f"{process.name}: {how} ({time.monotonic() - t0:.1f} s)")


def _recognise(server: Server, settings: StackSettings) -> JavaServer:
    """Enough of a server's description to find its process, without preparing anything."""
    return JavaServer(server.name, server.main_class, settings.state_dir)
