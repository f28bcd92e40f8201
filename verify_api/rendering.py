"""HTML and JSON answers: the consumer page, error pages and error bodies.

Templates use no external assets and no JavaScript: the page must render on a cheap phone
on a weak connection and in browsers with scripts off. Dates are shown as Vietnamese read
them (day/month/year, Vietnam time). Undefined template values raise instead of printing
nothing, so a missing fact is a failing test, not a silently blank line.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date, datetime

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, Response

from contract.label import VIETNAM_TIME
from contract.verdict import Lang
from verify_api.errors import ErrorCode
from verify_api.facts import Memory
from verify_api.i18n import STRINGS
from verify_api.negotiation import language, wants_json
from verify_api.schemas import ErrorBody, Resolution


def _day(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(VIETNAM_TIME)
    return value.strftime("%d/%m/%Y")


_STARS = Markup('<span class="stars" aria-label="{}">{}<span class="off">{}</span></span>')


def _stars(count: int, label: str) -> Markup:
    """★★★☆☆ with the empty ones dimmed, and the count for screen readers."""
    return _STARS.format(label.format(n=count), "★" * count, "☆" * (5 - count))


def _moment(value: datetime) -> str:
    return value.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M")


_ENV = Environment(
    loader=PackageLoader("verify_api", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates are part of the package: no stat() of them per render
)
_ENV.filters["day"] = _day
_ENV.filters["moment"] = _moment
_ENV.filters["stars"] = _stars
_RESOLUTION = _ENV.get_template("resolution.html")
_UNIT = _ENV.get_template("unit.html")
_ERROR = _ENV.get_template("error.html")
_SLOT = Markup("<!--unit-->")
"""Where the unit's part goes in a rendered frame. Autoescaping turns any "<" a fact holds
into "&lt;", so no value shown on the page can spell it."""

FRAME_OVERHEAD = 600
"""Bytes of a held frame besides its text: its key, tuple and two str headers."""

NO_STORE = {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}
"""A verdict is about now (ratings lapse, scans are counted): never cached, per language."""

ERROR_HEADERS = {"Cache-Control": "no-store"}


class Pages:
    """Renders the consumer page. All of it but the unit's own part (its scans, serial and
    the time of checking) is the same for every unit of a batch with the same findings, while
    the resolver holds the facts: that frame is rendered once per language and held in the
    facts' memory (under its one budget), split at the slot the unit's part is rendered into.
    The key (from the resolver) names the held facts by generation, so a frame can never be
    served for newer facts.
    """

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    def render(
        self, resolution: Resolution, facts_key: Hashable | None, lang: Lang, switch_href: str
    ) -> str:
        before, after = self._frame(resolution, facts_key, lang)
        unit = _UNIT.render(r=resolution, t=STRINGS[lang], lang=lang, switch_href=switch_href)
        return f"{before}{unit}{after}"

    def _frame(self, r: Resolution, facts_key: Hashable | None, lang: Lang) -> tuple[str, str]:
        key = None
        if facts_key is not None:  # else the facts are not the resolver's cached ones
            findings = tuple(f.reason for f in r.findings)
            notices = tuple((n.vi, n.en) for n in r.notices)
            key = ("frame", lang, facts_key, r.category, findings, notices)
        if key is not None and (held := self.memory.peek(key)) is not None:
            frame: tuple[str, str] = held.value
            return frame
        before, after = _RESOLUTION.render(r=r, t=STRINGS[lang], lang=lang, unit=_SLOT).split(_SLOT)
        if key is not None:
            # characters of Vietnamese text are mostly 1-2 bytes in CPython's str
            weight = 2 * (len(before) + len(after)) + FRAME_OVERHEAD
            self.memory.put(key, (before, after), weight=weight, ttl_s=float("inf"))
        return before, after


def error_response(
    connection: HTTPConnection,
    code: ErrorCode,
    detail: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """The error in the client's format and language: HTML only for a client that prefers it
    (a browser), JSON for everyone else. Never stored: it is about this moment (a 404 or a
    405 would otherwise be cacheable by default, RFC 9111 4.2.2)."""
    headers = ERROR_HEADERS | (headers or {})
    lang = language(connection.query_params.get("lang"), connection.headers.get("accept-language"))
    sentence = code.sentence(lang)
    text = f"{sentence} ({detail})" if detail else sentence
    status = int(code.status)
    if wants_json(connection.headers.get("accept"), default=True):
        body = ErrorBody(error=code.value, detail=text[:2000])
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)
    page = _ERROR.render(t=STRINGS[lang], lang=lang, detail=text, code=code.value, status=status)
    return HTMLResponse(page, status_code=status, headers=headers)
