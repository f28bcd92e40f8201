"""Who is asking: a browser (HTML) or an app (JSON), in Vietnamese or English.

The same URL is printed in every QR code, so one path serves both: a phone camera opens it
in a browser, which asks for text/html; an app or scanner asks for application/json. An
exact media type beats a wildcard, so "application/json, */*" is JSON and a browser's
"text/html, ..., */*;q=0.8" is HTML. Without a preference, the consumer page is HTML and
everything else (errors included) is JSON. Vietnamese unless English is asked for.
"""

from __future__ import annotations

import functools

from contract.verdict import Lang

HEADERS_HELD = 1_024
"""Answers kept per function: browsers send a handful of distinct headers, and parsing one
costs more than the rest of choosing the answer."""

_WILDCARD_DISCOUNT = 0.999
"""A wildcard match counts a little less than an exact one, so exact wins a tie."""


def _ranges(header: str) -> dict[str, float]:
    ranges: dict[str, float] = {}
    for part in header.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        ranges[media.lower()] = max(q, ranges.get(media.lower(), 0.0))
    return ranges


def _quality(ranges: dict[str, float], media: str) -> float:
    kind = media.split("/", 1)[0]
    if media in ranges:
        return ranges[media]
    for wildcard in (f"{kind}/*", "*/*"):
        if wildcard in ranges:
            return ranges[wildcard] * _WILDCARD_DISCOUNT
    return 0.0


@functools.lru_cache(maxsize=HEADERS_HELD)
def wants_json(accept: str | None, *, default: bool = False) -> bool:
    """True when the client prefers application/json to text/html; `default` when it has no
    preference (no header, or only wildcards)."""
    if not accept:
        return default
    ranges = _ranges(accept)
    json_q, html_q = _quality(ranges, "application/json"), _quality(ranges, "text/html")
    return default if json_q == html_q else json_q > html_q


@functools.lru_cache(maxsize=HEADERS_HELD)
def language(lang: str | None, accept_language: str | None) -> Lang:
    """?lang= wins; then Accept-Language, where English must outrank Vietnamese to be used."""
    if lang in (Lang.VI.value, Lang.EN.value):
        return Lang(lang)
    if not accept_language:
        return Lang.VI
    ranges: dict[str, float] = {}
    for tag, q in _ranges(accept_language).items():
        primary = tag.split("-", 1)[0]
        ranges[primary] = max(q, ranges.get(primary, 0.0))
    return Lang.EN if ranges.get("en", 0.0) > ranges.get("vi", 0.0) else Lang.VI
