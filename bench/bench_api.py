"""Resolutions per second and latency of the verify API, against a bare FastAPI route that does
one Cassandra read, in the same server under the same load, in the same run.

- The server: uvicorn (uvloop, httptools) with `--workers` processes (1 by default; `ocop-api
  --workers N` runs the same), the real app (create_app) plus a bare route `/bare/{serial}`
  that reads the unit's row with one prepared statement and returns a small JSON object. Only
  this benchmark mounts it. Server CPU counts every process of the server.
- Peak: wrk on loopback (1 thread, 50 connections, 10 s per run), cycling through 2,000
  different packed units, alternating bare / consumer page / JSON over several rounds.
- Paced: an open-loop client at half the page's peak rate (wrk has no rate option and wrk2 is
  not packaged): requests are sent on a fixed schedule whatever the responses do, and latency
  is counted from the scheduled time, so a stalled server cannot hide its queue. The bare
  route is paced at the same rate in turn with it (3 runs each, medians), and at half its
  own peak: the baseline held to the same target, to show how much of the tail is the
  machine's.
- Placement (`--placement`): where the processes run on the machine's cores.
  `shared` (the default): the kernel places everything, so the API shares its cores with
  Cassandra, Kafka and the load generator. `isolated`: the API server has the last core to
  itself, and Cassandra, Kafka, wrk and the paced client share the others, as they would
  run on other machines in a deployment. `api-core`: the API server is held on the last
  core, the rest may use any core. Cassandra and Kafka get all cores back at the end.

The worker is stopped once the units are stored, so it does not compete for the two cores;
scan events still go to Kafka. The rate limit is set high enough never to refuse.

    .venv/bin/python bench/bench_api.py [--workers 1] [--rounds 3] [--duration 10] [--units 2000]
        [--placement shared|isolated|api-core]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.integration

from fastapi import FastAPI, Request  # at module level: the bare route's annotations name them

from infra import stack
from infra.settings import StackSettings

WRK_CONNECTIONS = 50
KINDS = {
    "bare": {},
    "page": {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"},
    "json": {"Accept": "application/json"},
}
LUA = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
"""


# -- the server (a subprocess of the benchmark) ------------------------------------------------


def bench_app() -> FastAPI:
    """The real app with the bare route beside it (a factory: each worker builds its own)."""
    from contract import identifiers
    from records.session import run
    from tests.world import PRODUCT
    from verify_api.app import create_app
    from verify_api.settings import ApiSettings

    app: FastAPI = create_app(ApiSettings())
    prepared: dict[str, Any] = {}

    @app.get("/bare/{serial}")
    async def bare(serial: str, request: Request) -> dict[str, bool]:
        session = request.app.state.services.store.session
        if "unit" not in prepared:
            prepared["unit"] = await asyncio.to_thread(  # blocking: off the event loop
                session.prepare, "SELECT * FROM units WHERE unit_key = ?"
            )
        rows = await run(session, prepared["unit"], (identifiers.unit_key(PRODUCT, serial),))
        return {"found": bool(rows)}

    return app


def serve(port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "bench_api:bench_app", factory=True, app_dir=str(Path(__file__).parent), host="127.0.0.1",
        port=port, workers=workers, loop="uvloop", http="httptools", log_level="warning",
        access_log=False,
    )  # fmt: skip


# -- load ---------------------------------------------------------------------------------------


@dataclass
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float = 0.0
    """The server's CPU time per request: the cost itself, whatever else the cores are doing."""


def cpu_seconds(group: int) -> float:
    """utime + stime of every live process in a process group (the server and its workers),
    from /proc (clock ticks)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    base: str, paths_file: Path, script: Path, headers: dict[str, str], seconds: int, pid: int
) -> Run:
    command = [
        "wrk",
        "-t1",
        f"-c{WRK_CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    cpu_before = cpu_seconds(pid)
    output = subprocess.run(
        [*command, base], capture_output=True, text=True, check=True,
        env=os.environ | {"BENCH_PATHS": str(paths_file)},
    ).stdout  # fmt: skip
    cpu = cpu_seconds(pid) - cpu_before
    latency = {
        q: float(value) * _UNITS[unit]
        for q, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    if socket_errors:
        print(f"  wrk socket errors: {socket_errors.group(1)}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    failed = int(errors.group(1)) if errors else 0
    return Run(rate, latency["50"], latency["99"], failed, cpu / requests * 1000)


async def paced(host: str, port: int, paths: list[str], headers: dict[str, str], rate: float,
                seconds: float) -> tuple[Run, float]:  # fmt: skip
    """Open loop: request i is due at start + i / rate; its latency counts from then."""
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    latencies: list[float] = []
    errors = 0

    async def one(path: str, due: float) -> None:
        nonlocal errors
        try:
            reader, writer = free.get_nowait()
        except asyncio.QueueEmpty:
            reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - due)
        if not head.startswith(b"HTTP/1.1 200"):
            errors += 1
        free.put_nowait((reader, writer))

    start = time.perf_counter() + 0.1
    tasks = []
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(paths[i % len(paths)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not free.empty():
        free.get_nowait()[1].close()
    ordered = sorted(latencies)

    def ms(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return Run(total / elapsed, ms(0.5), ms(0.99), errors), max(ordered) * 1000


# -- placement on the cores -----------------------------------------------------------------------

PLACEMENTS = ("shared", "isolated", "api-core")


@dataclass(frozen=True)
class Cores:
    api: set[int] | None
    """The API server's cores; None: wherever the kernel puts it."""
    rest: set[int] | None
    """Cassandra's, Kafka's and the load generators' cores; None: any."""

    @classmethod
    def of(cls, placement: str) -> Cores:
        cpus = sorted(os.sched_getaffinity(0))
        if placement == "shared":
            return cls(None, None)
        if len(cpus) < 2:
            raise SystemExit(f"--placement {placement} needs two cores or more; this has one")
        return cls({cpus[-1]}, set(cpus[:-1]) if placement == "isolated" else None)


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of a running process (a JVM's threads each have their own affinity; new
    ones inherit their creator's)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(task.name), cpus)


@contextlib.contextmanager
def placed(cores: Cores, settings: StackSettings) -> Iterator[None]:
    """Cassandra, Kafka and this process (so wrk and the paced client) on `cores.rest` while
    the block runs, then back on every core."""
    if cores.rest is None:
        yield
        return
    every = os.sched_getaffinity(0)
    servers = [server.pid for server in stack.status(settings) if server.pid is not None]
    for pid in servers:
        pin(pid, cores.rest)
    os.sched_setaffinity(0, cores.rest)
    try:
        yield
    finally:
        os.sched_setaffinity(0, every)
        for pid in servers:
            with contextlib.suppress(FileNotFoundError):  # stopped meanwhile
                pin(pid, every)


def start_server(
    env: dict[str, str], port: int, log: Path, workers: int, cores: set[int] | None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("ab") as out:
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=None if cores is None else functools.partial(os.sched_setaffinity, 0, cores),
        )  # fmt: skip
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).json()["trust_list"]:
                return server
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not become ready")


Series = dict[str, list[tuple[Run, float]]]
"""Paced runs by what was paced: each run with its worst latency."""


def load(
    base: str,
    folder: Path,
    files: dict[str, list[str]],
    pid: int,
    port: int,
    args: argparse.Namespace,
) -> tuple[dict[str, list[Run]], dict[str, float], Series]:
    """Peak rounds with wrk (kinds in turn), then the paced runs in turn: the rounds, the
    median peak of each kind, and the paced runs."""
    script = folder / "paths.lua"
    for kind in KINDS:  # warm up: caches, JIT of Cassandra's read path, connections
        wrk(base, folder / f"{kind}.txt", script, KINDS[kind], 3, pid)
    runs: dict[str, list[Run]] = {kind: [] for kind in KINDS}
    for round_ in range(args.rounds):
        for kind in KINDS:
            last = wrk(base, folder / f"{kind}.txt", script, KINDS[kind], args.duration, pid)
            runs[kind].append(last)
            print(
                f"round {round_ + 1} {kind:5s} {last.rate:7.0f} req/s  p50 "
                f"{last.p50_ms:6.1f} ms  p99 {last.p99_ms:6.1f} ms  server CPU "
                f"{last.cpu_ms:5.2f} ms/request  errors {last.errors}"
            )
    peak = {kind: statistics.median(r.rate for r in runs[kind]) for kind in KINDS}
    # the bare route at the page's rate: how much of the tail is the machine's; and at half
    # its own peak: whether the baseline itself meets the target here
    plan = {
        "page": ("page", peak["page"] / 2),
        "bare": ("bare", peak["page"] / 2),
        "bare, own half": ("bare", peak["bare"] / 2),
    }
    series: Series = {name: [] for name in plan}
    for _ in range(args.paced_rounds):
        for name, (kind, rate) in plan.items():
            series[name].append(
                asyncio.run(paced("127.0.0.1", port, files[kind], KINDS[kind], rate, 15))
            )
    return runs, peak, series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="server processes (uvicorn)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--paced-rounds", type=int, default=3, help="15 s paced runs per kind")
    parser.add_argument(
        "--placement", choices=PLACEMENTS, default="shared",
        help="shared: the kernel places every process; isolated: the API server alone on the "
        "last core, Cassandra, Kafka and the load generators on the others; api-core: the API "
        "server held on the last core, the rest anywhere",
    )  # fmt: skip
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.workers)
        return

    from tests.integration.pipeline import Pipeline, free_port
    from tests.integration.test_api_stack import SALT, Storefront, path_of
    from tests.world import PRODUCT, World

    settings = StackSettings()
    stack.up(settings)
    with tempfile.TemporaryDirectory(prefix="ocop-bench-api-") as tmp:
        folder = Path(tmp)
        pipeline = Pipeline(settings, folder, World())
        server = None
        try:
            pipeline.start_worker()
            storefront = Storefront(pipeline)
            labels = storefront.pack(PRODUCT, "L2503BENCH", args.units, shipped_to="BigC")
            pipeline.stop_worker()  # the units are stored; the worker would only compete
            port = free_port()
            env = pipeline.env | {
                "OCOP_RESOLVER_HOST": "ocop.vn", "OCOP_DEVICE_SALT": SALT,
                "OCOP_RATE_LIMIT_PER_S": "1000000", "OCOP_RATE_LIMIT_BURST": "1000000",
            }  # fmt: skip
            cores = Cores.of(args.placement)
            server = start_server(env, port, folder / "server.log", args.workers, cores.api)
            files = {
                "bare": [f"/bare/{label.serial}" for label in labels],
                "page": [path_of(label) for label in labels],
                "json": [path_of(label) for label in labels],
            }
            for kind, paths in files.items():
                (folder / f"{kind}.txt").write_text("\n".join(paths) + "\n")
            (folder / "paths.lua").write_text(LUA)
            base = f"http://127.0.0.1:{port}"

            with placed(cores, settings):
                runs, peak, paced_runs = load(base, folder, files, server.pid, port, args)
        finally:
            if server is not None and server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            pipeline.close()

    def line(kind: str, label: str) -> str:
        p50 = statistics.median(r.p50_ms for r in runs[kind])
        p99 = statistics.median(r.p99_ms for r in runs[kind])
        cpu = statistics.median(r.cpu_ms for r in runs[kind])
        rounds = [r.rate / bare.rate for r, bare in zip(runs[kind], runs["bare"], strict=True)]
        ratio = "" if kind == "bare" else (
            f"  {peak[kind] / peak['bare']:4.0%} of bare (rounds: "
            + ", ".join(f"{x:.0%}" for x in rounds) + ")"
        )  # fmt: skip
        return (
            f"{label:42s} {peak[kind]:6.0f} req/s  p50 {p50:5.1f} ms  p99 {p99:6.1f} ms  "
            f"server CPU {cpu:4.2f} ms/req{ratio}"
        )

    print(
        f"\n{args.workers} server process(es), placement {args.placement}; wrk -t1 "
        f"-c{WRK_CONNECTIONS}, {args.duration} s runs, medians of {args.rounds} rounds, "
        f"{args.units} distinct units"
    )
    print(line("bare", "bare route, one Cassandra read (baseline)"))
    print(line("page", "resolution, consumer page (HTML)"))
    print(line("json", "resolution, JSON"))
    print(f"paced, open loop, {args.paced_rounds} runs of 15 s each, in turn:")
    for name, held in paced_runs.items():
        target = " (target < 50 ms)" if name == "page" else ""
        p99s = [run.p99_ms for run, _ in held]
        print(
            f"  {name:14s} at {statistics.median(run.rate for run, _ in held):4.0f} req/s: p50 "
            f"{statistics.median(run.p50_ms for run, _ in held):.1f} ms, p99 median "
            f"{statistics.median(p99s):.1f} ms{target} (runs: "
            + ", ".join(f"{p:.1f}" for p in p99s)
            + f"), max {max(worst for _, worst in held):.1f} ms, "
            f"errors {sum(run.errors for run, _ in held)}"
        )


if __name__ == "__main__":
    main()
