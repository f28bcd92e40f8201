"""Who is asking: HTML or JSON, Vietnamese or English."""

from __future__ import annotations

import pytest

from contract.verdict import Lang
from verify_api.negotiation import language, wants_json

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "default", "expected"),
    [
        (None, False, False),
        (None, True, True),
        ("*/*", False, False),
        ("*/*", True, True),
        (BROWSER, True, False),
        ("application/json", False, True),
        ("application/json, */*", False, True),
        ("application/json;q=0.5, text/html", True, False),
        ("text/html;q=0.1, application/*", False, True),
        ("application/json;q=nonsense, text/plain", True, True),
        ("APPLICATION/JSON", False, True),
    ],
)
def test_json_only_when_preferred(accept, default, expected):
    assert wants_json(accept, default=default) is expected


@pytest.mark.parametrize(
    ("lang", "accept_language", "expected"),
    [
        (None, None, Lang.VI),
        ("en", "vi", Lang.EN),
        ("vi", "en", Lang.VI),
        ("fr", None, Lang.VI),
        (None, "en-US,en;q=0.9", Lang.EN),
        (None, "vi-VN,vi;q=0.9,en;q=0.8", Lang.VI),
        (None, "en;q=0.5,vi;q=0.5", Lang.VI),
        (None, "fr-FR", Lang.VI),
    ],
)
def test_vietnamese_unless_english_is_asked_for(lang, accept_language, expected):
    assert language(lang, accept_language) is expected
