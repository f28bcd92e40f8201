"""What every request passes before any route, and what every response carries.

- `Guard` (a pure ASGI middleware: it also covers 404s and the trust list download, and
  refuses before FastAPI parses anything):
  - a rate limit per client: a token bucket of `burst` requests at once, refilled at `rate`
    per second; a refused request gets 429 and Retry-After with the seconds until the next
    token. The client is its network as `verify_api.deps.client_network` computes it for
    the scan analytics (the source address, an IPv6 address by its /64, X-Forwarded-For
    only from `OCOP_TRUSTED_PROXIES`), so one subscriber's /64 is one client and a forged
    X-Forwarded-For is nobody. The health probes and /metrics are exempt (`RATE_EXEMPT`):
    an orchestrator polling them must never be throttled. Buckets are per process: with
    several workers, each allows the full rate.
  - a path and query longer than `max_url` get 414; a body larger than `max_body` gets 413,
    at once by its Content-Length, or as it streams when it has none. (Not FastAPI's own
    `max_body_size`: it replaces any 413 with a plain-text one, whatever the client accepts.)
  - HEAD is answered as GET without its body (same status and headers); OPTIONS is 204 with
    the Allow header of the path's route (a path no route has stays 404).
- `SecurityHeaders` (outermost, around Starlette's own error middleware, see app.py): on
  every response the headers of `SecurityHeaders` below, prepared once; `no-store` on
  everything an inspector reads; CORS on the public read routes, never on /inspectors.
- `Docs`: Swagger UI from files the API serves itself (verify_api/static/swagger-ui).
- `HeadLimitedProtocol`: uvicorn's httptools protocol with what neither uvicorn nor httptools
  enforce: a size and a count limit on a request's head, and a deadline for reading it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from contract.verdict import Lang
from verify_api.deps import client_network
from verify_api.errors import ErrorCode
from verify_api.rendering import error_response

RATE_EXEMPT = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})
"""Paths the rate limit never refuses: probes and metrics scrapes come fast from one place."""

PUBLIC_PREFIXES = (
    "/01/",
    "/p/",
    "/verify",
    "/products/",
    "/registry/",
    "/batches/",
    "/.well-known/ocop-trust-list",
    "/.well-known/gs1resolver",
    "/epcis/",
    "/recall/",
)
"""Routes any web page may read (CORS): the resolver, verify, products, batches, trust list,
the GS1 resolver's description, EPCIS and recall status."""
PRIVATE_PREFIX = "/inspectors"
"""Inspectors' routes: never cached, never readable cross-origin."""


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
        self,
        app: ASGIApp,
        *,
        buckets: TokenBuckets | None,
        max_url: int,
        max_body: int,
        trusted: Sequence[IPv4Network | IPv6Network] = (),
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.max_url = max_url
        self.max_body = max_body
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.buckets is not None and scope["path"] not in RATE_EXEMPT:
            client = client_network(HTTPConnection(scope), self.trusted) or "unknown"
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
        method = scope["method"]
        if method == "HEAD":  # the GET route answers; the server sends no body for HEAD
            head = {**scope, "method": "GET", HEAD_ONLY: True}
            await self.app(head, self._counting(receive), _bodiless(send))
        elif method == "OPTIONS":
            await self.app(scope, self._counting(receive), _options(send))
        else:
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


HEAD_ONLY = "ocop.head_only"
"""Set on the scope of a HEAD answered as GET: a route with effects (a scan) skips them."""


def _bodiless(send: Send) -> Send:
    """A GET's answer to a HEAD: status and headers (Content-Length included), no body."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {"type": message["type"], "more_body": message.get("more_body", False)}
        await send(message)

    return sending


def _options(send: Send) -> Send:
    """OPTIONS goes to the router like any method: a path with a route answers 405 with the
    route's Allow header (completed by `allow_header`), which becomes 204 with that header.
    A path without a route stays 404."""
    allowed = False

    async def sending(message: Message) -> None:
        nonlocal allowed
        if message["type"] == "http.response.start" and message["status"] == 405:
            allowed = True
            headers = [(n, v) for n, v in message.get("headers", ()) if n.lower() == b"allow"]
            message = {"type": message["type"], "status": 204, "headers": headers}
        elif message["type"] == "http.response.body" and allowed:
            if message.get("more_body", False):
                return
            message = {"type": message["type"]}
        await send(message)

    return sending


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allow_header(methods: str) -> str:
    """A route's Allow header with what the Guard answers too: HEAD wherever GET is, and
    OPTIONS everywhere (app.py's 405 handler calls it)."""
    named = {method.strip().upper() for method in methods.split(",") if method.strip()}
    named |= {"HEAD", "OPTIONS"} if "GET" in named else {"OPTIONS"}
    rank = {method: n for n, method in enumerate(_METHOD_ORDER)}
    return ", ".join(sorted(named, key=lambda method: (rank.get(method, len(rank)), method)))


# -- response headers -------------------------------------------------------------------------


def _hash_source(text: bytes) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text).digest()).decode('ascii')}'"


def page_style_sources() -> str:
    """CSP hash sources of the consumer page's <style> blocks, read from the template they
    are written in (base.html: plain CSS, no template syntax, so the page carries them byte
    for byte; tests/unit/test_api_web_security.py checks that against a served page)."""
    template = (files("verify_api") / "templates" / "base.html").read_text("utf-8")
    blocks = re.findall(r"<style>(.*?)</style>", template, re.DOTALL)
    return " ".join(_hash_source(block.encode("utf-8")) for block in blocks)


def _policy(*directives: str) -> str:
    return "; ".join(directives)


FORM_PAGES = ("/01/", "/p/", "/registry/")
"""Paths of the pages that carry a form: the consumer page's report form (templates/
report.html) posts to this API's /reports/form (verify_api.routes.reports); the registry's
search form asks /registry/products."""


def page_policy(*, form_action: str = "'none'") -> str:
    """The Content-Security-Policy of everything but /docs: the page (and an error page) may
    apply its own <style> and nothing else; JSON needs nothing at all. Never framed.

    `form-action` is 'self' on the consumer page (`FORM_PAGES`), so that its report form may
    post, and only to this origin: markup injected into the page could not send what a
    consumer types elsewhere. Everywhere else it stays 'none': no other response has a form."""
    return _policy(
        "default-src 'none'",
        f"style-src {page_style_sources()}",
        "img-src 'self'",
        "base-uri 'none'",
        f"form-action {form_action}",
        "frame-ancestors 'none'",
    )


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
"""The page uses no device feature: it runs no script, and a place is the client's choice to
send (a query parameter an app adds), never asked of the browser."""


def _headers(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs)


def common_headers(
    policy: str, permissions: str = PERMISSIONS_POLICY
) -> tuple[tuple[bytes, bytes], ...]:
    return _headers(
        [
            ("Content-Security-Policy", policy),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers without CSP 2
            ("Referrer-Policy", "no-referrer"),
            ("Permissions-Policy", permissions),
        ]
    )


WORKSPACE = "/inspect"
"""The inspectors' workspace (backoffice/, mounted here): pages of its own, with their own
policy. Not "/inspectors" (the API), which only starts with the same letters."""
WORKSPACE_POLICY = _policy(
    "default-src 'none'",
    "script-src 'self'",  # its own files only: scan.js and the vendored decoder, no inline
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
"""The camera's video is a MediaStream (srcObject), which no fetch directive governs."""
WORKSPACE_PERMISSIONS = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"


NO_STORE = _headers([("Cache-Control", "no-store")])
CORS = _headers(
    [
        ("Access-Control-Allow-Origin", "*"),
        (
            "Access-Control-Expose-Headers",
            "ETag, Link, Location, Retry-After, X-OCOP-Trust-List-Version",
        ),
    ]
)
CORS_PREFLIGHT = CORS + _headers(
    [
        ("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS"),
        (
            "Access-Control-Allow-Headers",
            "Accept, Accept-Language, Content-Type, If-None-Match, X-Device-Id",
        ),
        ("Access-Control-Max-Age", "86400"),
    ]
)


class SecurityHeaders:
    """Appends prepared header tuples to every response's start; the only work per request
    is choosing them (path prefixes, and whether an Authorization header was sent).

    - no-store on everything an inspector reads: the /inspectors routes, and any response
      to a request carrying Authorization (an inspector scanning through a public route).
      Its own Cache-Control, if any (the trust list's `public`), is replaced.
    - CORS on the public read routes, `*` without credentials (no cookie or token crosses);
      a preflight (OPTIONS) also learns the methods and headers a page may use.
    """

    def __init__(self, app: ASGIApp, *, docs: Docs | None = None) -> None:
        self.app = app
        self.default = common_headers(page_policy())
        self.form_page = common_headers(page_policy(form_action="'self'"))
        self.by_path = {} if docs is None else {DOCS_URL: common_headers(docs.policy)}
        self.workspace = common_headers(WORKSPACE_POLICY, WORKSPACE_PERMISSIONS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = self.by_path.get(path) or (
            self.form_page if path.startswith(FORM_PAGES) else self.default
        )
        if path == WORKSPACE or path.startswith(f"{WORKSPACE}/"):
            extra = self.workspace
        private = path.startswith(PRIVATE_PREFIX) or any(
            name == b"authorization" for name, _ in scope["headers"]
        )
        if private:
            extra += NO_STORE
        if path.startswith(PUBLIC_PREFIXES):
            extra += CORS_PREFLIGHT if scope["method"] == "OPTIONS" else CORS

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                if private:
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                message = {**message, "headers": [*headers, *extra]}
            await send(message)

        await self.app(scope, receive, sending)


# -- /docs without a CDN ---------------------------------------------------------------------

SWAGGER_UI_VERSION = "5.35.0"
"""swagger-ui-dist vendored in verify_api/static/swagger-ui (see SOURCE.md there)."""
DOCS_URL = "/docs"
ASSETS_URL = "/static/swagger-ui"
ASSET_MAX_AGE_S = 365 * 86_400
"""The assets' URLs carry SWAGGER_UI_VERSION, so a browser may keep them a year unasked."""
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


class Docs:
    """/docs: FastAPI's Swagger UI page, with its script, stylesheet and icon served by the
    API from the vendored files, and no validator badge (Swagger UI would fetch it from
    swagger.io). The page's one inline script is allowed by its hash in /docs' own policy."""

    def __init__(self, openapi_url: str, title: str) -> None:
        folder = files("verify_api") / "static" / "swagger-ui"
        self.assets = {name: (folder / name).read_bytes() for name in _ASSETS}
        version = f"?v={SWAGGER_UI_VERSION}"
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js{version}",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css{version}",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png{version}",
            swagger_ui_parameters={"validatorUrl": None},
        )
        self.page = bytes(page.body)
        scripts = re.findall(rb"<script>(.*?)</script>", self.page, re.DOTALL)
        self.policy = _policy(
            "default-src 'none'",
            " ".join(["script-src 'self'", *map(_hash_source, scripts)]),
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
        self.router = APIRouter(include_in_schema=False)
        self.router.add_api_route(DOCS_URL, self.docs_page, methods=["GET"])
        self.router.add_api_route(f"{ASSETS_URL}/{{name}}", self.asset, methods=["GET"])

    async def docs_page(self) -> Response:
        return Response(self.page, media_type="text/html; charset=utf-8")

    async def asset(self, name: str) -> Response:
        if name not in self.assets:
            raise HTTPException(404)
        cache = f"public, max-age={ASSET_MAX_AGE_S}, immutable"
        return Response(
            self.assets[name], media_type=_ASSETS[name], headers={"Cache-Control": cache}
        )


# -- the request head, before the app sees it --------------------------------------------------


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int
    """The URL and header fields of one request, together."""
    max_headers: int
    timeout_s: float
    """From a connection's opening, or a request's first byte, to the end of its head; and
    as long again from there to the end of its body."""


class _HeadRefused(Exception):
    pass


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits neither enforces on a request's head.

    uvicorn 0.54 with httptools (llhttp) buffers a header field of any size (the parser
    hands a header over only once it is whole) and any number of them, and arms no timer
    until a response has been sent (`timeout_keep_alive`, between requests): a client that
    sends its head slowly, or never finishes it, holds its connection for as long as it
    likes. (Its h11 protocol limits the head's size, `h11_max_incomplete_event_size`, but not
    the count or the time, and parses at about half the speed.) So, per connection:

    - a timer from the connection's opening, and from each request's first byte, to the end
      of that request's head, and another as long from there to the end of its body (the
      keep-alive timer, which every byte received resets, would not end a body sent a byte
      at a time): when one fires the connection is closed, with 408 if a request had begun
      and is not being answered (a connection that sent nothing is just closed);
    - the URL and complete header fields are counted as the parser hands them over, and the
      bytes received while a head is unfinished are counted too (that catches one endless
      field the parser is still buffering): past `max_bytes` or `max_headers` the answer is
      431 and the connection is closed. Memory per connection stays within about one read
      (at most 256 KiB) beyond `max_bytes`.

    Given to uvicorn as `http=functools.partial(HeadLimitedProtocol, limits=...)` (cli.py).
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = False
        self._in_body = False
        self._head_bytes = 0
        self._head_fields = 0
        self._unfinished_bytes = 0
        self._refusal: tuple[int, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # answered; the connection is closing
        super().data_received(data)  # a _HeadRefused comes back as send_400_response
        if self._in_head and self._refusal is None and not self.transport.is_closing():
            self._unfinished_bytes += len(data)
            if self._unfinished_bytes > self.limits.max_bytes:
                self._refuse(431, self._too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._head_fields = self._unfinished_bytes = 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_bytes:
            self._refusal = (431, self._too_large())
            raise _HeadRefused
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_fields > self.limits.max_headers or self._head_bytes > self.limits.max_bytes:
            self._refusal = (431, self._too_large())
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()
        self._in_body = True  # for as long again (without a body, it ends at once)
        self._start_head_timer()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._stop_head_timer()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._answer(*self._refusal)

    def _too_large(self) -> str:
        return (
            f"request header fields too large: at most {self.limits.max_headers} fields "
            f"and {self.limits.max_bytes} bytes with the URL"
        )

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        answering = self.cycle is not None and self.cycle.response_started
        if self._in_head or (self._in_body and not answering):
            part = "head" if self._in_head else "body"
            self._refuse(408, f"the request's {part} took more than {self.limits.timeout_s:g} s")
        else:
            self.transport.close()

    def _refuse(self, status: int, detail: str) -> None:
        self._refusal = (status, detail)
        self._answer(status, detail)

    def _answer(self, status: int, detail: str) -> None:
        """The refusal in the API's error shape (in Vietnamese, the default: the head that
        would say otherwise was not read), and the connection closed."""
        text = f"{ErrorCode.BAD_REQUEST.sentence(Lang.VI)} ({detail})"
        refusal = {"error": ErrorCode.BAD_REQUEST.value, "detail": text}
        encoded = json.dumps(refusal, ensure_ascii=False).encode("utf-8")
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(encoded),
            b"cache-control: no-store\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
        ]
        self._stop_head_timer()
        self.transport.write(b"".join([*head, encoded]))
        self.transport.close()
