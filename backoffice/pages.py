"""The workspace's pages and files: Jinja templates (backoffice/templates) and the static
files (backoffice/static) served under versioned URLs.

Pages are plain HTML forms that work without JavaScript (typing or pasting a code); the one
script of our own (scan.js) adds the camera. The decoder it falls back on without the
browser's BarcodeDetector (@zxing/library, vendored with its licence and SOURCE.md) is fetched
only then, gzipped when the browser takes gzip. A file's URL carries the start of its hash,
so a phone keeps it a year and never asks again until it changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from contract.label import VIETNAM_TIME
from contract.verdict import Lang
from verify_api.negotiation import language

_ENV = Environment(
    loader=PackageLoader("backoffice", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def _moment(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


_ENV.filters["moment"] = _moment

_CSS, _JS = "text/css; charset=utf-8", "text/javascript; charset=utf-8"
ASSETS = {
    "workspace.css": ("workspace.css", _CSS),
    "scan.js": ("scan.js", _JS),
    "zxing.min.js": ("zxing/zxing.min.js", _JS),
}
"""The files served: name, file under static/, media type. A file with a .gz beside it (the
decoder's, from its package) is sent gzipped to a browser that takes gzip."""
YEAR_S = 365 * 86_400


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    version: str


class Assets:
    def __init__(self) -> None:
        folder = files("backoffice") / "static"
        self.by_name: dict[str, Asset] = {}
        for name, (path, media_type) in ASSETS.items():
            body = (folder / path).read_bytes()
            packed = folder / f"{path}.gz"
            self.by_name[name] = Asset(
                body,
                packed.read_bytes() if packed.is_file() else None,
                media_type,
                hashlib.sha256(body).hexdigest()[:12],
            )

    def url(self, base: str, name: str) -> str:
        return f"{base}/static/{name}?v={self.by_name[name].version}"

    def response(self, request: Request, name: str) -> Response:
        asset = self.by_name[name]
        current = request.query_params.get("v") == asset.version
        headers = {
            "Cache-Control": f"public, max-age={YEAR_S}, immutable" if current else "no-cache",
            "Vary": "Accept-Encoding",
        }
        accepted = request.headers.get("accept-encoding", "")
        if asset.gzipped is not None and "gzip" in accepted:
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)


PAGE_HEADERS = {"Cache-Control": "no-store"}
"""Every page is about one inspector and this moment: never stored."""


def chosen_language(request: Request, held: Lang | None) -> Lang:
    """?lang= first, then the session's choice, then Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in (Lang.VI.value, Lang.EN.value):
        return Lang(asked)
    if held is not None:
        return held
    return language(None, request.headers.get("accept-language"))


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
