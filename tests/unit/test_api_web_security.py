"""The web layer's defences without servers: security headers, caching, cookies, redirects,
HEAD and OPTIONS, CORS, the rate limit's client, /docs, and the request head's limits.

The app is test_api_http's (in-memory records, a recording event sink). The protocol's
limits are driven here through a fake transport; tests/integration/test_api_limits.py
shows them on a real `ocop-api` over real sockets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import warnings
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from uvicorn.config import Config
from uvicorn.server import ServerState

from demo import services
from demo.settings import DemoSettings
from tests.unit import test_api_http
from tests.unit.test_api_http import BROWSER, INSPECTOR_TOKEN, JSON, Api, bearer
from tests.world import PRODUCT, World
from verify_api.guards import HeadLimitedProtocol, HeadLimits
from verify_api.settings import ApiSettings, Environment

with warnings.catch_warnings():  # as in test_api_http: httpx works for Starlette's client
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

api = test_api_http.api  # its fixtures: the app over a shelf of records, and a client
client = test_api_http.client

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in policy.split(";"))
    return {name: rest[0] if rest else "" for name, *rest in parts}


# -- headers on every response ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "label", BROWSER, 200),  # the consumer page
        ("GET", "label", JSON, 200),  # its JSON
        ("GET", "/nothing/here", BROWSER, 404),  # an error page
        ("GET", "/nothing/here", JSON, 404),  # an error body
        ("POST", "label", JSON, 405),
        ("GET", "/01/" + "9" * 3000, JSON, 414),  # refused by the guard, before any route
        ("GET", "/.well-known/ocop-trust-list", {}, 200),
        ("GET", "/health/live", {}, 200),
    ],
)
def test_every_response_carries_the_security_headers(
    api: Api, client: TestClient, method, path, headers, status
):
    response = client.request(method, api.path() if path == "label" else path, headers=headers)
    assert response.status_code == status
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers.get_list("content-security-policy") == [
        response.headers["content-security-policy"]
    ]  # one policy, not two to intersect


def test_the_page_is_styled_only_by_its_own_style_block(api: Api, client: TestClient):
    for path in (api.path(), "/nothing/here"):  # the consumer page, an error page
        response = client.get(path, headers=BROWSER)
        page = response.text
        (style,) = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
        policy = directives(response.headers["content-security-policy"])
        assert policy["style-src"] == sha256_source(style)  # the hash of what was served
        assert " style=" not in page  # no inline style attribute (a hash cannot allow one)
        assert "<script" not in page
        assert "src=" not in page
        assert "img-src" in policy
        assert "script-src" not in policy  # default-src 'none': no script at all


def test_a_server_error_carries_them_too(world: World):
    failing = Api(world)
    failing.shelf.store.failure = RuntimeError("a bug")  # not a driver error: a plain 500
    with TestClient(failing.app, raise_server_exceptions=False) as client:
        response = client.get(failing.path(), headers=JSON)
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# -- caching -----------------------------------------------------------------------------------


def test_what_an_inspector_reads_is_never_stored(api: Api, client: TestClient):
    token = bearer(INSPECTOR_TOKEN)
    for path, headers, status in (
        ("/inspectors/me", token, 200),
        ("/inspectors/me", {}, 401),
        ("/inspectors/alerts", {}, 401),
        ("/inspectors/nothing", token, 404),
        (api.path(), token | JSON, 200),  # an inspector scanning through the public route
        ("/.well-known/ocop-trust-list", token, 200),  # public, max-age=60 without a token
        (f"/products{PRODUCT}/certifications", token, 200),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == status, path
        assert response.headers.get_list("cache-control") == ["no-store"], path
    public = client.get("/.well-known/ocop-trust-list")
    assert public.headers["cache-control"] == "public, max-age=60"


def test_errors_are_never_stored(client: TestClient):
    for path in ("/nothing/here", "/verify"):  # 404, 405
        assert client.get(path).headers["cache-control"] == "no-store"


# -- the device cookie ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_base_url", "base_url", "secure"),
    [
        (None, "http://testserver", True),  # https://ocop.vn, behind a proxy that ends TLS
        ("https://tem.ocop.example", "http://testserver", True),
        ("http://127.0.0.1:8000", "http://testserver", False),  # the demo, on plain http
        ("http://127.0.0.1:8000", "https://testserver", True),  # https on the last hop too
    ],
)
def test_the_device_cookie_is_secure_when_the_public_scheme_is_https(
    world: World, public_base_url, base_url, secure
):
    api = Api(world, public_base_url=public_base_url)
    with TestClient(api.app, base_url=base_url) as client:
        response = client.get(api.path(), headers=BROWSER)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ocop_device=")
    assert ("; Secure" in cookie) is secure


def test_the_public_origin_defaults_to_the_resolver_host(world: World):
    root = world.root.public_key_text
    settings = ApiSettings(root_key=root, device_salt="s" * 16, resolver_host="tem.ocop.example")
    assert (settings.public_origin, settings.secure_cookies) == ("https://tem.ocop.example", True)
    with pytest.raises(ValueError, match="public_base_url"):
        ApiSettings(root_key=root, device_salt="s" * 16, public_base_url="ftp://ocop.vn/x")


# -- no redirect built from the Host header -------------------------------------------------------


def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_host_sent(api: Api, client: TestClient):
    label, query = api.path().split("?", 1)
    foreign = {"Host": "evil.example"}
    for path in ("/health/live/", "/verify/", "/inspectors/me/"):
        response = client.get(path, headers=foreign | JSON, follow_redirects=False)
        assert response.status_code == 404, path
        assert "location" not in response.headers
        assert response.json()["error"] == "not_found"
    # a Digital Link's trailing slash is tolerated (GS1 resolver 1.2): a redirect to the
    # label on the API's own origin, never on the host sent
    slashed = client.get(f"{label}/?{query}", headers=foreign | JSON, follow_redirects=False)
    assert slashed.headers["location"] == f"https://ocop.vn{label}?{query}"
    page = client.get("/health/live/", headers=foreign | BROWSER, follow_redirects=False)
    assert (page.status_code, "location" in page.headers) == (404, False)
    assert "evil.example" not in page.text


# -- HEAD, OPTIONS, 405 ---------------------------------------------------------------------------


def test_head_answers_as_get_without_a_body(api: Api, client: TestClient):
    for path, headers in (
        (api.path(), JSON),
        ("/.well-known/ocop-trust-list", {}),
        ("/health/live", {}),
        (f"/batches{api.shelf.batch_id}", {}),
        ("/nothing/here", {}),
        ("/verify", {}),  # no GET route: 405, like GET
    ):
        got = client.get(path, headers=headers)
        head = client.head(path, headers=headers)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert head.headers == got.headers, path  # Content-Length included


def test_options_is_204_with_allow_and_405_lists_every_method(api: Api, client: TestClient):
    for path, allow in (
        (api.path(), "GET, HEAD, OPTIONS"),
        ("/verify", "POST, OPTIONS"),
        ("/.well-known/ocop-trust-list", "GET, HEAD, OPTIONS"),
        ("/inspectors/inspections", "GET, HEAD, POST, OPTIONS"),  # two routes, one path
        ("/health/live", "GET, HEAD, OPTIONS"),
    ):
        options = client.options(path)
        assert (options.status_code, options.content) == (204, b""), path
        assert options.headers["allow"] == allow, path
    assert client.options("/nothing/here").status_code == 404
    for method, path, allow in (
        ("POST", api.path(), "GET, HEAD, OPTIONS"),
        ("DELETE", "/.well-known/ocop-trust-list", "GET, HEAD, OPTIONS"),
        ("PUT", "/inspectors/me", "GET, HEAD, OPTIONS"),
        ("PUT", "/inspectors/inspections", "GET, HEAD, POST, OPTIONS"),
        ("GET", "/verify", "POST, OPTIONS"),
    ):
        refused = client.request(method, path, headers=JSON)
        assert refused.status_code == 405, (method, path)
        assert refused.headers["allow"] == allow, (method, path)
        assert refused.json()["error"] == "method_not_allowed"


# -- CORS ----------------------------------------------------------------------------------------


def test_cors_on_the_public_routes_and_never_on_the_inspectors(api: Api, client: TestClient):
    origin = {"Origin": "https://shop.example"}
    world = api.shelf.world
    public = [
        client.get(api.path(), headers=origin | JSON),
        client.post("/verify", json={"text": world.label().url}, headers=origin),
        client.get(f"/products{PRODUCT}/certifications", headers=origin),
        client.get(f"/batches{api.shelf.batch_id}", headers=origin),
        client.get("/.well-known/ocop-trust-list", headers=origin),
        client.get("/01/08931234567890/10/X/21/Y/more", headers=origin | JSON),  # an error
    ]
    for response in public:
        assert response.headers["access-control-allow-origin"] == "*", response.url
        assert "access-control-allow-credentials" not in response.headers
        assert "ETag" in response.headers["access-control-expose-headers"]
    preflight = client.options(
        "/verify",
        headers=origin
        | {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "Content-Type" in preflight.headers["access-control-allow-headers"]
    assert "Authorization" not in preflight.headers["access-control-allow-headers"]

    token = bearer(INSPECTOR_TOKEN)
    private = [
        client.get("/inspectors/me", headers=origin | token),
        client.get("/inspectors/alerts", headers=origin),
        client.options("/inspectors/inspections", headers=origin),
        client.get("/health/live", headers=origin),
    ]
    for response in private:
        assert not [n for n in response.headers if n.startswith("access-control-")], response.url


# -- the rate limit -----------------------------------------------------------------------------


def _default(name: str) -> Any:
    return ApiSettings.model_fields[name].default


def test_the_rate_limit_is_on_by_default_and_spares_health_and_metrics(world: World):
    assert _default("rate_limit_per_s") > 0
    limited = Api(world, rate_limit_per_s=_default("rate_limit_per_s"))  # Api turns it off
    with TestClient(limited.app) as client:
        responses = [client.get("/nothing/here") for _ in range(100)]
        statuses = [response.status_code for response in responses]
        burst = _default("rate_limit_burst")
        assert statuses[:burst] == [404] * burst
        refused = next(response for response in responses if response.status_code == 429)
        assert refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        for exempt in ("/health", "/health/live", "/health/ready", "/metrics"):
            assert all(client.get(exempt).status_code != 429 for _ in range(5)), exempt
        assert client.get("/health/live").status_code == 200


def test_the_demo_runs_with_the_default_rate_limit_and_says_it_is_plain_http(world: World):
    office = SimpleNamespace(
        root=world.root, passphrase="demo-passphrase-0123", desk_env=lambda: {}
    )
    env = services.api(DemoSettings(), office).env  # type: ignore[arg-type]
    assert not any(name.startswith("OCOP_RATE_LIMIT") for name in env)
    settings = ApiSettings.model_validate(
        {name.removeprefix("OCOP_").lower(): value for name, value in env.items()
         if name in ("OCOP_ROOT_KEY", "OCOP_DEVICE_SALT", "OCOP_PUBLIC_BASE_URL")}
    )  # fmt: skip
    assert settings.rate_limit_per_s > 0
    assert settings.public_origin.startswith("http://127.0.0.1:")
    assert not settings.secure_cookies  # its pages are opened over plain http


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(world: World):
    api = Api(world, rate_limit_per_s=0.001, rate_limit_burst=2, trusted_proxies=["10.0.0.0/8"])

    def statuses(peer: str, forwarded: list[str | None]) -> list[int]:
        with TestClient(api.app, client=(peer, 40_000)) as client:
            return [
                client.get("/nothing", headers={"X-Forwarded-For": f} if f else {}).status_code
                for f in forwarded
            ]

    # through the trusted proxy: each forwarded client has its own bucket
    a, b = "203.0.113.1", "203.0.113.2"
    assert statuses("10.1.2.3", [a, a, a, b, f"{b}, 10.9.9.9", b]) == [404, 404, 429, 404, 404, 429]
    # straight from a client: what it says it forwards is nobody; the client is itself
    assert statuses("198.51.100.7", ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) == [404, 404, 429]
    assert statuses("198.51.100.8", [None, None, None]) == [404, 404, 429]
    # one IPv6 subscriber is its /64, whichever of its addresses it sends from
    assert statuses("2001:db8:1:2::1", [None, None]) == [404, 404]
    assert statuses("2001:db8:1:2::ffff", [None]) == [429]
    assert statuses("2001:db8:1:3::1", [None]) == [404]


# -- /docs ---------------------------------------------------------------------------------------


def test_docs_load_nothing_from_elsewhere(world: World):
    api = Api(world, environment=Environment.DEVELOPMENT)
    assert api.settings.docs_enabled
    with TestClient(api.app) as client:
        docs = client.get("/docs")
        assert docs.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)""", docs.text)
        assert len(urls) == 3  # script, stylesheet, icon
        assert all(url.startswith("/static/swagger-ui/") for url in urls), urls
        assert "//" not in docs.text.replace("https://swagger.io", "")  # no absolute URL
        assert '"validatorUrl": null' in docs.text  # no badge fetched from swagger.io
        types = {}
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            types[url.split("?")[0].rsplit(".", 1)[1]] = asset.headers["content-type"]
        assert types == {
            "js": "text/javascript; charset=utf-8",
            "css": "text/css; charset=utf-8",
            "png": "image/png",
        }
        policy = directives(docs.headers["content-security-policy"])
        (script,) = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
        assert policy["script-src"] == f"'self' {sha256_source(script)}"
        assert (policy["style-src"], policy["connect-src"]) == ("'self'", "'self'")
        assert "unsafe" not in docs.headers["content-security-policy"]
        assert client.get("/static/swagger-ui/package.json").status_code == 404
        assert client.get("/redoc").status_code == 404  # it loads from a CDN: not served
        assert client.get("/docs/oauth2-redirect").status_code == 404


def test_docs_are_off_in_production_unless_asked(world: World, api: Api, client: TestClient):
    assert api.settings.environment is Environment.PRODUCTION
    assert client.get("/docs").status_code == 404
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 404
    assert client.get("/openapi.json").status_code == 200  # the contract itself stays
    asked = Api(world, docs=True)
    with TestClient(asked.app) as on:
        assert on.get("/docs").status_code == 200
    off = Api(world, environment=Environment.DEVELOPMENT, docs=False)
    with TestClient(off.app) as development:
        assert development.get("/docs").status_code == 404


# -- the request head: size, count, time (uvicorn's httptools protocol, a fake transport) ----------


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50_000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def status(self) -> int | None:
        line = bytes(self.written).split(b"\r\n", 1)[0]
        return int(line.split()[1]) if line else None


async def ok(scope: Any, receive: Any, send: Any) -> None:
    """Reads the whole body, then answers 200."""
    while (message := await receive())["type"] == "http.request" and message["more_body"]:
        pass
    if message["type"] == "http.disconnect":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


LIMITS = HeadLimits(max_bytes=16_384, max_headers=100, timeout_s=0.2)


def connection(limits: HeadLimits = LIMITS) -> tuple[HeadLimitedProtocol, FakeTransport]:
    config = Config(app=ok, log_level="critical", timeout_keep_alive=5)
    config.load()
    protocol = HeadLimitedProtocol(config, ServerState(), {}, limits=limits)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def head(*fields: bytes) -> bytes:
    return b"GET /x HTTP/1.1\r\nHost: ocop.vn\r\n" + b"".join(f + b"\r\n" for f in fields)


def run(scenario: Any) -> Any:
    return asyncio.run(scenario())


def test_a_request_head_within_the_limits_is_served():
    async def scenario() -> int | None:
        protocol, transport = connection()
        fields = [b"X-F%d: %s" % (n, b"v" * 100) for n in range(99)]  # 100 with Host
        protocol.data_received(head(*fields) + b"\r\n")
        await asyncio.sleep(0.05)
        protocol.connection_lost(None)
        return transport.status()

    assert run(scenario) == 200


@pytest.mark.parametrize(
    "chunk",
    [1 << 20, 1024, 65_536],
    ids=["in-one-read", "1-KiB-reads", "64-KiB-reads"],
)
def test_an_oversize_single_header_is_431_and_closed(chunk: int):
    async def scenario() -> tuple[int | None, bool, int]:
        protocol, transport = connection()
        data = head(b"X-Big: " + b"a" * (32 << 20))  # 32 MiB, never finished
        sent = 0
        while sent < len(data) and not transport.closed:
            protocol.data_received(data[sent : sent + chunk])
            sent += chunk
        protocol.connection_lost(None)
        return transport.status(), transport.closed, sent

    status, closed, read = run(scenario)
    assert (status, closed) == (431, True)
    assert read <= 16_384 + 2 * chunk  # stopped reading at the limit, not at 32 MiB


def test_too_many_headers_are_431():
    async def scenario() -> tuple[int | None, bool, bytes]:
        protocol, transport = connection()
        protocol.data_received(head(*[b"X-F%d: 1" % n for n in range(100)]) + b"\r\n")
        protocol.connection_lost(None)
        return transport.status(), transport.closed, bytes(transport.written)

    status, closed, written = run(scenario)
    assert (status, closed) == (431, True)
    assert b'"error": "bad_request"' in written
    assert b"at most 100 fields" in written


def test_a_head_sent_slowly_is_cut_off_at_the_deadline():
    async def scenario() -> list[tuple[float, int | None, bool]]:
        seen = []
        protocol, transport = connection()
        start = asyncio.get_running_loop().time()
        for byte in head(b"X-Slow: " + b"a" * 100):  # one byte every 20 ms
            if transport.closed:
                break
            protocol.data_received(bytes([byte]))
            await asyncio.sleep(0.02)
        seen.append((asyncio.get_running_loop().time() - start, transport.status(), True))
        idle, quiet = connection()  # sends nothing at all
        await asyncio.sleep(0.3)
        seen.append((0.0, quiet.status(), quiet.closed))
        protocol.connection_lost(None)
        idle.connection_lost(None)
        return seen

    (took, status, _), (_, idle_status, idle_closed) = run(scenario)
    assert status == 408
    assert 0.2 <= took < 0.5
    assert (idle_status, idle_closed) == (None, True)  # closed without a word


def test_the_deadline_counts_again_for_each_request_on_a_kept_connection():
    async def scenario() -> tuple[list[int], bool]:
        protocol, transport = connection()
        statuses = []
        for _ in range(3):  # each request well within the deadline, together beyond it
            transport.written.clear()
            protocol.data_received(head() + b"\r\n")
            await asyncio.sleep(0.1)
            statuses.append(transport.status() or 0)
        transport.written.clear()
        protocol.data_received(b"GET /x HTTP/1.1\r\n")  # the next one never finishes
        await asyncio.sleep(0.3)
        statuses.append(transport.status() or 0)
        protocol.connection_lost(None)
        return statuses, transport.closed

    assert run(scenario) == ([200, 200, 200, 408], True)


def test_a_body_sent_slowly_is_cut_off_too():
    async def scenario() -> tuple[float, int | None, bool]:
        protocol, transport = connection()
        protocol.data_received(b"POST /x HTTP/1.1\r\nHost: ocop.vn\r\nContent-Length: 100\r\n\r\n")
        start = asyncio.get_running_loop().time()
        for _ in range(100):  # one byte every 20 ms: each resets uvicorn's keep-alive timer
            if transport.closed:
                break
            protocol.data_received(b"a")
            await asyncio.sleep(0.02)
        took = asyncio.get_running_loop().time() - start
        protocol.connection_lost(None)
        return took, transport.status(), transport.closed

    took, status, closed = run(scenario)
    assert (status, closed) == (408, True)
    assert 0.2 <= took < 0.5
