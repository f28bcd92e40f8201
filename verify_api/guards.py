"""What every request passes before any route: a rate limit per client, size limits.

A pure ASGI middleware rather than a decorator per route: it also covers 404s and the trust
list download, costs a dictionary lookup per request, and refuses before FastAPI parses
anything. The limit is per client address as the server sees it; behind a proxy, uvicorn's
--proxy-headers (trusted proxies only) makes that the real client. Buckets are per process:
with several workers, each allows the full rate.

- Token bucket: `burst` requests at once, refilled at `rate` per second; a refused request
  gets 429 and Retry-After with the seconds until the next token.
- A path and query longer than `max_url` get 414; a body larger than `max_body` gets 413,
  at once by its Content-Length, or as it streams when it has none. (Not FastAPI's own
  `max_body_size`: it replaces any 413 with a plain-text one, whatever the client accepts.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verify_api.errors import ErrorCode
from verify_api.rendering import error_response


class TokenBuckets:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client: (tokens, at), oldest first

    def take(self, client: str) -> float:
        """0 if the client may go ahead (a token is taken), else the seconds to wait."""
        now = self._clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)  # re-inserted: the dict stays in last-use order
        if len(self._buckets) > self.max_clients:
            self._forget(now)
        return wait

    def _forget(self, now: float) -> None:
        """Drop clients whose buckets have refilled (forgetting them changes nothing), and if
        that is not enough, the longest idle."""
        refill_s = self.burst / self.rate
        for client, (_, at) in list(self._buckets.items()):
            if now - at < refill_s and len(self._buckets) <= self.max_clients // 2:
                break
            del self._buckets[client]


class Guard:
    def __init__(
        self, app: ASGIApp, *, buckets: TokenBuckets | None, max_url: int, max_body: int
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.max_url = max_url
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.buckets is not None:
            client = scope["client"][0] if scope.get("client") else "unknown"
            wait = self.buckets.take(client)
            if wait:
                retry = {"Retry-After": str(math.ceil(wait))}
                refusal = error_response(HTTPConnection(scope), ErrorCode.RATE_LIMITED, "", retry)
                await refusal(scope, receive, send)
                return
        if len(scope.get("raw_path") or b"") + len(scope["query_string"]) > self.max_url:
            limit = f"at most {self.max_url} characters"
            refusal = error_response(HTTPConnection(scope), ErrorCode.URL_TOO_LONG, limit)
            await refusal(scope, receive, send)
            return
        declared = HTTPConnection(scope).headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > self.max_body:
            limit = f"at most {self.max_body} bytes"
            refusal = error_response(HTTPConnection(scope), ErrorCode.BODY_TOO_LARGE, limit)
            await refusal(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        """A body without a Content-Length is counted as it streams; FastAPI passes the
        HTTPException on to the app's handler, which answers 413."""
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413)
            return message

        return counting_receive
