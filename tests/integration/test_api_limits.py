"""The request head's limits and deadlines, and the rate limit's client, on a real `ocop-api`
(uvicorn, uvloop, httptools, verify_api.guards.HeadLimitedProtocol) over real sockets.

The server is test_api_stack's ApiProcess with short deadlines; it needs no trust list here,
so it is ready as soon as it is live.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.pipeline import Pipeline
from tests.integration.test_api_stack import ApiProcess
from tests.world import World

HEADER_TIMEOUT_S = 2.0
KEEP_ALIVE_S = 1
SLOW_CLIENTS = 100
SLACK_S = 1.5
"""What a close may come late on a shared 2-core machine."""


class LiveApi(ApiProcess):
    """ApiProcess, ready once it answers its liveness probe (no trust list needed)."""

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"ocop-api exited:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base}/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="module")
def api(stack_settings, tmp_path_factory) -> Iterator[LiveApi]:
    folder = tmp_path_factory.mktemp("limits")
    pipeline = Pipeline(stack_settings, folder, World())
    server = None
    try:
        server = LiveApi(
            pipeline,
            folder,
            header_timeout_s=str(HEADER_TIMEOUT_S),
            keep_alive_s=str(KEEP_ALIVE_S),
            rate_limit_per_s="0.2",
            rate_limit_burst="5",
            trusted_proxies='["127.0.0.1/32"]',
        )
        yield server
    finally:
        if server is not None:
            server.stop()
        pipeline.close()


def exchange(api: LiveApi, data: bytes, *, wait_s: float = 5.0) -> bytes:
    """Send `data` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=wait_s) as raw:
        raw.sendall(data)
        received = b""
        while chunk := raw.recv(65_536):
            received += chunk
        return received


def status(response: bytes) -> int:
    return int(response.split(b"\r\n", 1)[0].split()[1])


def request(*fields: bytes, path: bytes = b"/health/live") -> bytes:
    lines = [b"GET " + path + b" HTTP/1.1", b"Host: ocop.vn", *fields, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_an_oversize_header_and_too_many_headers_are_refused(api: LiveApi):
    assert status(exchange(api, request(b"X-Fine: " + b"a" * 8_000))) == 200
    assert status(exchange(api, request(*[b"X-F%d: 1" % n for n in range(90)]))) == 200

    refused = exchange(api, request(b"X-Big: " + b"a" * 20_000))
    assert status(refused) == 431
    assert b"connection: close" in refused.lower()
    assert b'"error": "bad_request"' in refused
    assert status(exchange(api, request(*[b"X-F%d: 1" % n for n in range(150)]))) == 431
    assert status(exchange(api, request(path=b"/" + b"a" * 20_000))) == 431

    # 32 MiB in one header: the server stops reading and closes long before the end
    started = time.monotonic()
    sent, cut_off = flood(api, 32 << 20)
    assert cut_off is not None  # the reset, or a broken pipe
    assert sent < 8 << 20  # a few socket buffers at most
    assert time.monotonic() - started < 5
    assert status(exchange(api, request())) == 200  # and the server goes on


def flood(api: LiveApi, size: int) -> tuple[int, OSError | None]:
    """Send a header of `size` bytes; how much went out before the server cut it off."""
    sent = 0
    chunk = b"a" * 65_536
    try:
        with socket.create_connection(("127.0.0.1", api.port), timeout=5) as raw:
            raw.sendall(b"GET /health/live HTTP/1.1\r\nHost: ocop.vn\r\nX-Big: ")
            while sent < size:
                raw.sendall(chunk)
                sent += len(chunk)
            while raw.recv(65_536):  # if the refusal could be read, the close follows
                pass
    except (ConnectionResetError, BrokenPipeError) as error:
        return sent, error
    return sent, None


async def _slow_client(port: int, started: float) -> tuple[float, bytes]:
    """A client sending a request's head one byte a second; when it was cut off, and what
    it was told."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health/live HTTP/1.1\r\nHost: ocop.vn\r\nX-Slow: ")
    received = b""
    try:
        for _ in range(60):
            writer.write(b"a")
            await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(65_536), timeout=1.0)
            except TimeoutError:
                continue
            if not chunk:
                break
            received += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started, received


async def _normal_requests(base: str, until: float) -> list[tuple[int, float]]:
    answers = []
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < until:
            sent = time.monotonic()
            response = await client.get("/health/live")
            answers.append((response.status_code, time.monotonic() - sent))
            await asyncio.sleep(0.1)
    return answers


def test_slow_header_clients_are_cut_off_while_normal_requests_are_served(api: LiveApi):
    async def scenario() -> tuple[list[tuple[float, bytes]], list[tuple[int, float]]]:
        started = time.monotonic()
        slow = [_slow_client(api.port, started) for _ in range(SLOW_CLIENTS)]
        normal = _normal_requests(api.base, started + HEADER_TIMEOUT_S + 2 * SLACK_S)
        return await asyncio.gather(asyncio.gather(*slow), normal)

    cut, served = asyncio.run(scenario())
    assert len(cut) == SLOW_CLIENTS
    for took, told in cut:
        assert HEADER_TIMEOUT_S - 0.1 <= took <= HEADER_TIMEOUT_S + SLACK_S, took
        assert status(told) == 408, told[:200]
    assert len(served) >= 15
    assert all(code == 200 for code, _ in served)
    assert max(latency for _, latency in served) < 1.0


def test_an_idle_connection_and_an_idle_kept_alive_one_are_closed(api: LiveApi):
    started = time.monotonic()
    assert exchange(api, b"") == b""  # never said anything: closed without a word
    assert HEADER_TIMEOUT_S - 0.1 <= time.monotonic() - started <= HEADER_TIMEOUT_S + SLACK_S

    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as raw:
        raw.sendall(b"GET /health/live HTTP/1.1\r\nHost: ocop.vn\r\n\r\n")
        answered = raw.recv(65_536)
        after_answer = time.monotonic()
        assert status(answered) == 200
        while raw.recv(65_536):
            pass
        assert time.monotonic() - after_answer <= KEEP_ALIVE_S + SLACK_S


def test_the_rate_limit_believes_x_forwarded_for_only_from_a_trusted_proxy(api: LiveApi):
    def statuses(source: str, forwarded: list[str | None]) -> list[int]:
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=api.base, transport=transport, timeout=5) as client:
            return [
                client.get("/nothing", headers={"X-Forwarded-For": f} if f else {}).status_code
                for f in forwarded
            ]

    # 127.0.0.1 is the trusted proxy: uvicorn and the app both take the client it names
    first, second = "198.51.100.1", "198.51.100.2"
    assert statuses("127.0.0.1", [first] * 6) == [404] * 5 + [429]
    assert statuses("127.0.0.1", [second]) == [404]
    # 127.0.0.2 is not a proxy: whatever it says it forwards, it is one client
    said = [f"203.0.113.{n}" for n in range(6)]
    assert statuses("127.0.0.2", list(said)) == [404] * 5 + [429]
    # the probes are never throttled, even for a client that is
    assert statuses("127.0.0.2", [None]) == [429]
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
        assert client.get(f"{api.base}/health/live").status_code == 200
