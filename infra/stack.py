"""The local stack as a whole: bring both servers up, say how they are, take them down.

``up`` is idempotent: a server that already runs (its pid file names a live process of
this state folder) is only probed, a stale pid file is dropped, and a port held by some
other program is reported instead of starting a second server beside it.

With ``nodes`` > 1 each server is that many nodes ("kafka-1" … on their own addresses).
Kafka's nodes start together (a controller quorum forms only once a majority runs);
Cassandra's start one after another, each once the one before answers, as nodes must join
a ring. A node killed and started again is just a node that does not run: ``up`` starts
it alone.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from contract.bilingual import bilingual
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
    one_at_a_time: bool = False  # a node starts once the one before it answers


SERVERS = (
    Server(
        cassandra.NAME,
        cassandra.MAIN_CLASS,
        cassandra.prepare,
        cassandra.probe,
        cassandra.ports,
        one_at_a_time=True,
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


def _port_taken(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((address, port)) == 0


def node_settings(settings: StackSettings) -> list[StackSettings]:
    """The settings of each node of the stack (one: the settings themselves)."""
    return [settings.for_node(k) for k in range(settings.nodes)]


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
    last_error = bilingual("chưa có trả lời", "no answer yet")
    while time.monotonic() < deadline:
        if running_pid(java) != pid:
            said = bilingual(
                f"{java.name} đã dừng trong lúc khởi động", f"{java.name} exited during start-up"
            )
            raise StackError(f"{said}\n{log_tail(java.log_file)}")
        try:
            return server.probe(settings)
        except StackError as exc:
            last_error = str(exc)
        time.sleep(0.5)
    waited = f"{settings.start_timeout_s:.0f} s"
    said = bilingual(
        f"{java.name} không trả lời trong {waited}", f"{java.name} did not answer within {waited}"
    )
    raise StackError(f"{said} ({last_error})\n{log_tail(java.log_file)}")


@dataclass
class _Starting:
    server: Server
    settings: StackSettings  # the node's
    java: JavaServer
    pid: int
    started: bool
    t0: float
    status: ServerStatus | None = None


def up(
    settings: StackSettings, report: Report = _quiet, servers: Sequence[Server] = SERVERS
) -> list[ServerStatus]:
    """Start what is not running, then wait until every node answers a real request."""
    starting: list[_Starting] = []
    for server in servers:
        report(f"{server.name}: preparing (jars from Maven Central on first use)")
        before: _Starting | None = None
        for node in node_settings(settings):
            if server.one_at_a_time and before is not None:
                _ready(before, report)
            java = server.prepare(node)
            pid = running_pid(java)
            started = pid is None
            if pid is None:
                taken = [p for p in server.ports(node) if _port_taken(node.address, p)]
                if taken:
                    raise StackError(
                        bilingual(
                            f"{java.name}: cổng {taken} của {node.address} đang bị một chương "
                            f"trình khác giữ, không phải {java.name} của dự án này (không có pid "
                            f"còn sống trong {java.pid_file}); hãy dừng chương trình đó, hoặc "
                            "chọn cổng hay địa chỉ khác bằng các thiết lập OCOP_*",
                            f"{java.name}: port(s) {taken} of {node.address} are taken by another "
                            f"program, not by this project's {java.name} (no live pid in "
                            f"{java.pid_file}); stop it, or choose other ports or addresses with "
                            "the OCOP_* settings",
                        )
                    )
                report(f"{java.name}: starting")
                pid = launch(java)
            else:
                report(f"{java.name}: already running (pid {pid})")
            before = _Starting(server, node, java, pid, started, time.monotonic())
            starting.append(before)
    for node_start in starting:
        _ready(node_start, report)
    return [s.status for s in starting if s.status is not None]


def _ready(node: _Starting, report: Report) -> None:
    if node.status is not None:
        return
    detail = _wait_ready(node.server, node.java, node.pid, node.settings)
    ready_s = time.monotonic() - node.t0 if node.started else None
    report(f"{node.java.name}: ready ({detail})")
    node.status = ServerStatus(
        node.java.name, node.pid, True, detail, rss_mib(node.pid), node.started, ready_s
    )


def status(settings: StackSettings) -> list[ServerStatus]:
    """How each node is, without starting or preparing anything."""
    result = []
    for server in SERVERS:
        for node in node_settings(settings):
            java = _recognise(server, node)
            pid = running_pid(java)
            if pid is None:
                result.append(ServerStatus(java.name, None, False, "not running", None))
                continue
            try:
                detail, healthy = server.probe(node), True
            except StackError as exc:
                detail, healthy = str(exc), False
            result.append(ServerStatus(java.name, pid, healthy, detail, rss_mib(pid)))
    return result


def node_process(kind: str, settings: StackSettings, node: int = 0) -> JavaServer:
    """Node `node` (0-based) of the server `kind`, enough to find its pid (a test kills it)."""
    server = next(s for s in SERVERS if s.name == kind)
    return _recognise(server, settings.for_node(node))


def down(settings: StackSettings, report: Report = _quiet, only: set[str] | None = None) -> None:
    """Stop the servers this state folder runs (``only`` those named, if given).

    The project's own services (worker, API) first, then Kafka, then Cassandra, so that
    nothing still writing through one waits on the next.
    """
    nodes = [_recognise(s, node) for s in reversed(SERVERS) for node in node_settings(settings)]
    servers = {server.name for server in SERVERS} | {node.name for node in nodes}
    services: list[Managed] = [
        PythonService(pid_file.stem, settings.state_dir)
        for pid_file in sorted((settings.state_dir / "run").glob("*.pid"))
        if pid_file.stem not in servers
    ]
    for process in services + nodes:
        kind = process.kind or process.name if isinstance(process, JavaServer) else process.name
        if only is not None and process.name not in only and kind not in only:
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
    """Enough of a node's description to find its process, without preparing anything."""
    return JavaServer(
        settings.node_name(server.name),
        server.main_class,
        settings.state_dir,
        kind=server.name if settings.nodes > 1 else None,
    )
