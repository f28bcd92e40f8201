from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from contract.verdict import Lang
from interop.digital_link import DigitalLink, parse_digital_link
from interop.linkset import (
    LINKSET_CONTEXT_LINK_HEADER,
    Catalogue,
    LinkChoice,
    LinkProblem,
    LinkRefusal,
    LinkTarget,
    LinkType,
    build_linkset,
    choose_link,
    default_link,
    forward_query,
    linkset_link_header,
    wants_linkset,
)
from tests.world import GTIN, HOST, LOT

ROOT = f"https://{HOST}"
SERIAL = "7K3M9QX2HD4A"
PRODUCT = f"/01/{GTIN}"
BATCH = f"{PRODUCT}/10/{LOT}"
UNIT = f"{BATCH}/21/{SERIAL}"
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "interop" / "schemas" / "linkset-schema.json").read_text()
)

PAGE_VI = LinkTarget(
    href=f"{ROOT}/p/vi", title="Trang sản phẩm", type="text/html", hreflang=("vi",)
)
PAGE_EN = LinkTarget(href=f"{ROOT}/p/en", title="Product page", type="text/html", hreflang=("en",))
CERT_HTML = LinkTarget(href=f"{ROOT}/cert", title="Giấy chứng nhận OCOP", type="text/html")
CERT_PDF = LinkTarget(href=f"{ROOT}/cert.pdf", title="OCOP certificate", type="application/pdf")
GTIN_DEFAULT = LinkTarget(href=f"{ROOT}/product", title="Sản phẩm")
LOT_DEFAULT = LinkTarget(href=f"{ROOT}/batch", title="Lô hàng")
UNIT_DEFAULT = LinkTarget(href=f"{ROOT}/unit", title="Sản phẩm này")
RECALL = LinkTarget(href=f"{ROOT}/recall", title="Tình trạng thu hồi", type="application/json")
CHECK = LinkTarget(href=f"{ROOT}/inspect", title="Kiểm tra", hreflang=("vi",))

CATALOGUE: Catalogue = {
    PRODUCT: {
        LinkType.DEFAULT_LINK: [GTIN_DEFAULT],
        LinkType.PIP: [PAGE_VI, PAGE_EN],
        LinkType.CERTIFICATION_INFO: [CERT_HTML, CERT_PDF],
        LinkType.RECALL_STATUS: [RECALL],
    },
    BATCH: {LinkType.DEFAULT_LINK: [LOT_DEFAULT], LinkType.TRACEABILITY: [LOT_DEFAULT]},
    UNIT: {LinkType.VERIFICATION_SERVICE: [CHECK]},
}


def link(path: str) -> DigitalLink:
    parsed = parse_digital_link(path)
    assert isinstance(parsed, DigitalLink)
    return parsed


def chosen(result: LinkChoice | LinkRefusal) -> LinkTarget:
    assert isinstance(result, LinkChoice), result
    return result.target


def validate(document: object) -> None:
    jsonschema.Draft7Validator(
        SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    ).validate(document)


@pytest.mark.parametrize("path", [PRODUCT, BATCH, UNIT, f"{PRODUCT}/21/{SERIAL}"])
def test_every_linkset_validates_against_gs1s_schema_and_covers_each_level(path):
    built = build_linkset(link(path), CATALOGUE, root=ROOT, item_description="Mắm cáy Hồng Tiến")
    document = built.model_dump(mode="json")
    validate(document)
    anchors = [context["anchor"] for context in document["linkset"]]
    assert anchors == [f"{ROOT}{level.path}" for level in link(path).levels()]
    assert anchors[-1] == f"{ROOT}{PRODUCT}"


def test_a_linkset_says_every_link_type_by_its_uri_with_an_array_of_targets():
    built = build_linkset(link(UNIT), CATALOGUE, root=ROOT, item_description="x")
    document = json.loads(built.model_dump_json())
    unit, batch, product = document["linkset"]
    assert unit["https://gs1.org/voc/verificationService"] == [
        {"href": f"{ROOT}/inspect", "title": "Kiểm tra", "hreflang": ["vi"]}
    ]
    assert batch["https://gs1.org/voc/defaultLink"] == [
        {"href": f"{ROOT}/batch", "title": "Lô hàng"}
    ]
    assert len(product["https://gs1.org/voc/pip"]) == 2
    assert set(product) == {
        "anchor",
        "itemDescription",
        *(t.value for t in CATALOGUE[PRODUCT]),
    }


def test_the_schema_check_is_real():
    document = build_linkset(link(PRODUCT), CATALOGUE, root=ROOT, item_description="x")
    broken = document.model_dump()
    del broken["linkset"][0]["itemDescription"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_a_default_link_is_one_plain_target():
    for bad in ([GTIN_DEFAULT, LOT_DEFAULT], [PAGE_VI]):
        with pytest.raises(ValueError, match="at most one default link"):
            build_linkset(
                link(PRODUCT),
                {PRODUCT: {LinkType.DEFAULT_LINK: bad}},
                root=ROOT,
                item_description="x",
            )


def test_the_default_link_falls_back_from_unit_to_lot_to_gtin():
    assert chosen(default_link(link(UNIT), CATALOGUE)) == LOT_DEFAULT
    assert chosen(default_link(link(f"{PRODUCT}/21/{SERIAL}"), CATALOGUE)) == GTIN_DEFAULT
    assert chosen(default_link(link(f"{PRODUCT}/10/OTHERLOT/21/{SERIAL}"), CATALOGUE)) == (
        GTIN_DEFAULT
    )
    with_unit = {**CATALOGUE, UNIT: {LinkType.DEFAULT_LINK: [UNIT_DEFAULT]}}
    assert chosen(default_link(link(UNIT), with_unit)) == UNIT_DEFAULT
    choice = default_link(link(UNIT), CATALOGUE)
    assert isinstance(choice, LinkChoice)
    assert choice.level.path == BATCH
    refusal = default_link(link(UNIT), {})
    assert isinstance(refusal, LinkRefusal)
    assert refusal.problem is LinkProblem.NO_DEFAULT_LINK


def test_a_link_type_is_found_at_the_finest_level_that_has_it():
    assert chosen(choose_link(link(UNIT), CATALOGUE, link_type="gs1:recallStatus")) == RECALL
    assert chosen(choose_link(link(UNIT), CATALOGUE, link_type="gs1:traceability")) == LOT_DEFAULT
    assert chosen(choose_link(link(UNIT), CATALOGUE)) == LOT_DEFAULT  # no linkType: the default
    for spelling in (
        "gs1:verificationService",
        "https://gs1.org/voc/verificationService",
        "https://ref.gs1.org/voc/verificationService",
        "https://www.gs1.org/voc/verificationService",
    ):
        assert chosen(choose_link(link(UNIT), CATALOGUE, link_type=spelling)) == CHECK


@pytest.mark.parametrize(
    ("link_type", "problem"),
    [
        ("gs1:epcis", LinkProblem.NO_LINK_OF_TYPE),
        ("gs1:noSuchType", LinkProblem.UNKNOWN_LINK_TYPE),
        ("https://example.com/voc/pip", LinkProblem.UNKNOWN_LINK_TYPE),
        ("gs1:", LinkProblem.UNKNOWN_LINK_TYPE),
    ],
)
def test_a_missing_link_type_is_refused_with_a_reason(link_type, problem):
    refusal = choose_link(link(BATCH), CATALOGUE, link_type=link_type)
    assert isinstance(refusal, LinkRefusal)
    assert refusal.problem is problem
    assert problem.sentence(Lang.VI) != problem.sentence(Lang.EN)


@pytest.mark.parametrize(
    ("accept", "language", "expected"),
    [
        (None, None, PAGE_VI),  # the catalogue's first
        (None, "en-GB,en;q=0.9,vi;q=0.5", PAGE_EN),
        (None, "vi-VN, vi;q=0.9", PAGE_VI),  # a tag matches a more specific range's prefix
        (None, "fr", PAGE_VI),  # nothing matches: the first, never a refusal
        ("application/json", None, PAGE_VI),
        ("text/*", "en", PAGE_EN),
    ],
)
def test_negotiation_of_a_pip_by_language(accept, language, expected):
    result = choose_link(
        link(UNIT), CATALOGUE, link_type="gs1:pip", accept=accept, accept_language=language
    )
    assert chosen(result) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/pdf", CERT_PDF),
        ("text/html, application/pdf;q=0.5", CERT_HTML),
        ("text/html;q=0.2, application/pdf", CERT_PDF),
        ("*/*;q=0.1, application/pdf;q=0", CERT_HTML),
        ("image/png", CERT_HTML),
    ],
)
def test_negotiation_of_a_certificate_by_media_type(accept, expected):
    result = choose_link(link(BATCH), CATALOGUE, link_type="gs1:certificationInfo", accept=accept)
    assert chosen(result) == expected


def test_a_request_for_the_linkset():
    assert wants_linkset("linkset", None)
    assert wants_linkset("all", None)
    assert wants_linkset(None, "application/linkset+json")
    assert wants_linkset(None, "text/html;q=0.9, application/linkset+json")
    assert not wants_linkset(None, "application/linkset+json;q=0")
    assert not wants_linkset("gs1:pip", "application/linkset+json")
    assert not wants_linkset(None, None)


def test_link_headers_and_forwarded_queries():
    assert linkset_link_header(link(UNIT), ROOT) == (
        f'<{ROOT}{UNIT}?linkType=linkset>; rel="linkset"; type="application/linkset+json"'
    )
    assert LINKSET_CONTEXT_LINK_HEADER == (
        "<https://ref.gs1.org/standards/resolver/linkset-context>; "
        'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    assert forward_query(f"{ROOT}/unit", "") == f"{ROOT}/unit"
    assert forward_query(f"{ROOT}/unit", "13=250310&s=4&utm_source=zalo") == (
        f"{ROOT}/unit?13=250310&s=4&utm_source=zalo"
    )
    assert forward_query(f"{ROOT}/unit?lang=vi", "s=4") == f"{ROOT}/unit?lang=vi&s=4"
