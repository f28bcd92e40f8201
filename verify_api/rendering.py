"""HTML and JSON answers: the consumer page, error pages and error bodies.

Templates use no external assets and no JavaScript: the page must render on a cheap phone
on a weak connection and in browsers with scripts off. Dates are shown as Vietnamese read
them (day/month/year, Vietnam time). Undefined template values raise instead of printing
nothing, so a missing fact is a failing test, not a silently blank line.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from datetime import date, datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, Response

from contract.label import VIETNAM_TIME
from contract.verdict import Lang
from verify_api.errors import ErrorCode
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
_VERDICT = _ENV.get_template("verdict.html")
_FACTS = _ENV.get_template("facts.html")
_ERROR = _ENV.get_template("error.html")

NO_STORE = {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}
"""A verdict is about now (ratings lapse, scans are counted): never cached, per language."""


class Pages:
    """Renders the consumer page. Most of it is the same for many scans, so those parts are
    rendered once per language and reused:

    - the verdict, for every resolution with the same findings and notices;
    - the rating, product, producer and batch sections, for every unit of a batch while those
      facts are cached. The key (from the resolver) names the cached objects themselves, so a
      fragment can never outlive the facts it shows.

    What is left per scan is the unit's own part: its scans, serial and the time of checking.
    """

    def __init__(self, held: int = 1_000) -> None:
        self.held = held
        self._fragments: OrderedDict[Hashable, Markup] = OrderedDict()

    def render(
        self, resolution: Resolution, facts_key: Hashable | None, lang: Lang, switch_href: str
    ) -> str:
        r = resolution
        verdict_key = (
            "verdict", lang, r.category, tuple(f.reason for f in r.findings),
            tuple((n.vi, n.en) for n in r.notices),
        )  # fmt: skip
        facts_key = None if facts_key is None else ("facts", lang, facts_key)
        return _RESOLUTION.render(
            r=r,
            t=STRINGS[lang],
            lang=lang,
            switch_href=switch_href,
            verdict=self._fragment(_VERDICT, r, verdict_key, lang),
            facts=self._fragment(_FACTS, r, facts_key, lang),
        )

    def _fragment(
        self, template: Template, resolution: Resolution, key: Hashable | None, lang: Lang
    ) -> Markup:
        if key is not None and (held := self._fragments.get(key)) is not None:
            return held
        html = template.render(r=resolution, t=STRINGS[lang], lang=lang)
        fragment = Markup(html)  # noqa: S704 (the output of an autoescaping template)
        if key is not None:
            self._fragments[key] = fragment
            if len(self._fragments) > self.held:
                self._fragments.popitem(last=False)
        return fragment


def error_response(
    connection: HTTPConnection,
    code: ErrorCode,
    detail: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """The error in the client's format and language: HTML only for a client that prefers it
    (a browser), JSON for everyone else."""
    lang = language(connection.query_params.get("lang"), connection.headers.get("accept-language"))
    sentence = code.sentence(lang)
    text = f"{sentence} ({detail})" if detail else sentence
    status = int(code.status)
    if wants_json(connection.headers.get("accept"), default=True):
        body = ErrorBody(error=code.value, detail=text[:2000])
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)
    page = _ERROR.render(t=STRINGS[lang], lang=lang, detail=text, code=code.value, status=status)
    return HTMLResponse(page, status_code=status, headers=headers)
