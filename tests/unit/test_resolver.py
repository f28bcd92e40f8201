"""The GS1-Conformant resolver over the API's test client (verify_api.routes.resolver): each
behaviour of GS1 resolver standard 1.2 that GS1's test suite (gs1/GS1DL-resolver-testsuite,
Conformance1_2.txt) checks, every linkset validated against GS1's linkset schema, and a
GS1-aware client's walk from /.well-known/gs1resolver through every link."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from records.rows import Product
from tests.unit.test_api_http import BROWSER, JSON, Api
from tests.unit.test_registry import HeldRegistry, _row
from tests.world import GTIN, LOT, NOW, OTHER_PRODUCT, PRODUCER, World

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ROOT = "https://ocop.vn"
PRODUCT_PATH = f"/01/{GTIN}"
LOT_PATH = f"{PRODUCT_PATH}/10/{LOT}"
VOC = "https://gs1.org/voc/"
LINKSET = {"Accept": "application/linkset+json"}
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "interop" / "schemas" / "linkset-schema.json").read_text()
)


def validate(document: object) -> None:
    jsonschema.Draft7Validator(
        SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    ).validate(document)


@pytest.fixture
def api(world: World) -> Api:
    held = Api(world)
    held.shelf.store.products[OTHER_PRODUCT] = Product(
        OTHER_PRODUCT, PRODUCER, "Bánh cáy Thái Bình", None, "food", None, None, "VN-34", NOW
    )
    return held


@pytest.fixture
def client(api: Api, world: World) -> Iterator[TestClient]:
    with TestClient(api.app, base_url="http://testserver", follow_redirects=False) as held:
        api.app.state.registry_reader = HeldRegistry([_row(world)])
        yield held


def unit(api: Api) -> str:
    """The first label's path without its query."""
    return api.path().partition("?")[0]


def location(response: Any) -> str:
    assert response.status_code == 307, response.text
    return str(response.headers["location"])


# -- redirects -------------------------------------------------------------------------------


def test_a_gtin_redirects_to_its_default_link_with_the_linkset_in_a_link_header(client):
    response = client.get(PRODUCT_PATH)
    assert location(response) == f"{ROOT}/registry/products{PRODUCT_PATH}"
    assert response.headers["link"] == (
        f'<{ROOT}{PRODUCT_PATH}?linkType=linkset>; rel="linkset"; type="application/linkset+json"'
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Link" in response.headers["access-control-expose-headers"]


def test_a_redirect_passes_the_whole_query_string_on(client):
    response = client.get(f"{PRODUCT_PATH}?utm_source=zalo&x=1")
    assert location(response) == f"{ROOT}/registry/products{PRODUCT_PATH}?utm_source=zalo&x=1"
    typed = client.get(f"{PRODUCT_PATH}?linkType=gs1:certificationInfo&utm_source=zalo")
    assert location(typed) == (
        f"{ROOT}/products{PRODUCT_PATH}/certifications?linkType=gs1:certificationInfo"
        "&utm_source=zalo"
    )


def test_a_lot_without_a_default_of_its_own_falls_back_to_the_products(client):
    assert location(client.get(LOT_PATH)) == f"{ROOT}/registry/products{PRODUCT_PATH}"


@pytest.mark.parametrize(
    ("link_type", "target"),
    [
        ("gs1:traceability", f"{ROOT}/batches{LOT_PATH}"),
        ("gs1:recallStatus", f"{ROOT}/recall{LOT_PATH}"),
        (
            "gs1:epcis",
            f"{ROOT}/epcis/events?MATCH_anyEPCClass=https%3A%2F%2Fid.gs1.org%2F01%2F{GTIN}"
            f"%2F10%2F{LOT}",
        ),
        ("https://gs1.org/voc/pip", f"{ROOT}/registry/products{PRODUCT_PATH}"),
        ("gs1:certificationInfo", f"{ROOT}/products{PRODUCT_PATH}/certifications"),
    ],
)
def test_a_lot_redirects_to_each_link_type_of_its_level_or_above(client, link_type, target):
    response = client.get(f"{LOT_PATH}?linkType={link_type}", headers=JSON)
    assert location(response) == f"{target}{'&' if '?' in target else '?'}linkType={link_type}"


def test_an_unknown_lot_falls_back_to_the_product_not_404(client):
    assert location(client.get(f"{PRODUCT_PATH}/10/NOSUCHLOT")).endswith(
        f"/registry/products{PRODUCT_PATH}"
    )
    missing = client.get(f"{PRODUCT_PATH}/10/NOSUCHLOT?linkType=gs1:recallStatus")
    assert (missing.status_code, missing.json()["error"]) == (404, "no_such_link")


def test_the_link_is_chosen_by_accept_and_accept_language(client):
    pip = f"{PRODUCT_PATH}?linkType=gs1:pip"
    page = f"{ROOT}/registry/products{PRODUCT_PATH}"
    english = client.get(pip, headers={"Accept": "text/html", "Accept-Language": "en-GB,en"})
    assert location(english) == f"{page}?lang=en&linkType=gs1:pip"
    assert location(client.get(pip, headers=BROWSER)) == f"{page}?linkType=gs1:pip"
    assert location(client.get(pip + "&lang=en")) == f"{page}?lang=en&linkType=gs1:pip"
    assert location(client.get(pip, headers=JSON)) == f"{page}?linkType=gs1:pip"


def test_a_missing_or_unknown_link_type_is_404_with_its_reason(client):
    missing = client.get(f"{PRODUCT_PATH}?linkType=gs1:recallStatus", headers=JSON)
    assert (missing.status_code, missing.json()["error"]) == (404, "no_such_link")
    assert "no_link_of_type" in missing.json()["detail"]
    unknown = client.get(f"{PRODUCT_PATH}?linkType=gs1:nonsense", headers={"Accept-Language": "en"})
    assert unknown.status_code == 404
    assert "unknown_link_type" in unknown.json()["detail"]
    assert "not a GS1 link type" in unknown.json()["detail"]


def test_an_unknown_product_is_404(client):
    response = client.get("/01/08931234567880", headers=JSON)
    assert (response.status_code, response.json()["error"]) == (404, "unknown_product")


@pytest.mark.parametrize(
    ("path", "defect"),
    [
        ("/01/08931234567890", "bad_check_digit"),
        ("/01/0893123", "bad_gtin"),
        ("/01/abc", "bad_gtin"),
        (f"/01/{GTIN}/99/x", "unknown_ai"),
        (f"/01/{GTIN}/21/ABC/10/{LOT}", "wrong_order"),
        (f"/01/{GTIN}/10/{LOT}/extra", "extra_segment"),
        (f"/01/{GTIN}/10/{'A' * 21}", "bad_length"),
        (f"/01/{GTIN}/10/L%ZZ", "bad_escape"),
        (f"/01/{GTIN}/10/L%C3%A9", "bad_character"),
        (f"/01/{GTIN}?17=251341", "bad_date"),
        (f"/01/{GTIN}?17=251231&17=251231", "repeated_attribute"),
    ],
)
def test_a_malformed_digital_link_is_400_with_its_reason_in_both_languages(client, path, defect):
    vi = client.get(path, headers=JSON)
    assert (vi.status_code, vi.json()["error"]) == (400, "malformed_digital_link")
    assert defect in vi.json()["detail"]
    assert "hợp lệ" in vi.json()["detail"]
    en = client.get(path, headers=JSON | {"Accept-Language": "en"})
    assert en.status_code == 400
    assert "not a valid GS1 Digital Link" in en.json()["detail"]


def test_a_trailing_slash_is_tolerated(client):
    assert location(client.get(f"{PRODUCT_PATH}/")) == location(client.get(PRODUCT_PATH))
    assert location(client.get(f"{LOT_PATH}/?linkType=gs1:traceability")).startswith(
        f"{ROOT}/batches{LOT_PATH}"
    )


def test_a_variant_and_a_serial_without_lot_fall_back_to_the_product(client):
    for path in (
        f"{PRODUCT_PATH}/22/V1",
        f"{PRODUCT_PATH}/21/ABC123",
        f"{PRODUCT_PATH}/22/V1/10/X",
    ):
        assert location(client.get(path)).endswith(f"/registry/products{PRODUCT_PATH}"), path


def test_our_own_p_keys_resolve_like_gtins(client):
    assert location(client.get(OTHER_PRODUCT)) == f"{ROOT}/registry/products{OTHER_PRODUCT}"
    assert location(client.get(f"{OTHER_PRODUCT}/10/L1")).endswith(OTHER_PRODUCT)
    body = client.get(f"{OTHER_PRODUCT}/10/L1?linkType=linkset").json()
    validate(body)
    assert [c["anchor"] for c in body["linkset"]] == [
        f"{ROOT}{OTHER_PRODUCT}/10/L1", f"{ROOT}{OTHER_PRODUCT}",
    ]  # fmt: skip
    bad = client.get("/p/x/10/L1", headers=JSON)
    assert (bad.status_code, bad.json()["error"]) == (400, "malformed_digital_link")


# -- the unit: the consumer page stays -----------------------------------------------------------


def test_a_label_scan_still_gets_the_consumer_page(api: Api, client):
    page = client.get(api.path(), headers=BROWSER)
    assert page.status_code == 200
    assert "Chính hãng" in page.text
    verdict = client.get(api.path(), headers=JSON)
    assert verdict.json()["reason"] == "genuine"


def test_a_label_asking_for_the_verification_service_is_answered_in_place(api: Api, client):
    response = client.get(api.path() + "&linkType=gs1:verificationService", headers=JSON)
    assert response.status_code == 200
    assert response.json()["reason"] == "genuine"  # the label's pairs were not doubled
    default = client.get(api.path() + "&linkType=gs1:defaultLink", headers=BROWSER)
    assert (default.status_code, "Chính hãng" in default.text) == (200, True)


def test_a_label_asking_for_another_link_type_is_redirected_with_its_query(api: Api, client):
    query = api.path().partition("?")[2]
    response = client.get(api.path() + "&linkType=gs1:pip", headers=BROWSER)
    assert location(response) == (
        f"{ROOT}/registry/products{PRODUCT_PATH}?{query}&linkType=gs1:pip"
    )
    assert not api.events.scans  # a redirect is not a scan
    # the report form is on the page itself: answered in place (a redirect would loop)
    report = client.get(api.path() + "&linkType=gs1:leaveReview", headers=BROWSER)
    assert (report.status_code, 'id="report"' in report.text) == (200, True)


def test_a_bare_unit_uri_falls_back_to_the_lot_and_the_product(api: Api, client):
    assert location(client.get(unit(api))).endswith(f"/registry/products{PRODUCT_PATH}")
    epcis = client.get(unit(api) + "?linkType=gs1:epcis", headers=JSON)
    assert "/epcis/events?MATCH_anyEPCClass=" in location(epcis)
    missing = client.get(unit(api) + "?linkType=gs1:verificationService", headers=JSON)
    assert missing.status_code == 404  # without the label there is nothing to verify


def test_a_malformed_label_still_gets_its_verdict(api: Api, client):
    path = api.path().replace(f"/01/{GTIN}/", "/01/08931234567890/")
    response = client.get(path, headers=JSON)
    assert (response.status_code, response.json()["reason"]) == (400, "malformed")


# -- linksets ----------------------------------------------------------------------------------


def _levels(api: Api) -> list[str]:
    return [PRODUCT_PATH, LOT_PATH, unit(api), api.path(), OTHER_PRODUCT, f"{PRODUCT_PATH}/22/V1"]


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("how", ["query", "accept"])
def test_every_linkset_validates_against_gs1s_schema(api: Api, client, index, how):
    path = _levels(api)[index]
    if how == "query":
        response = client.get(path + ("&" if "?" in path else "?") + "linkType=linkset")
    else:
        response = client.get(path, headers=LINKSET)
        assert response.headers["content-type"] == "application/linkset+json"
    assert response.status_code == 200
    assert response.headers["link"] == (
        "<https://ref.gs1.org/standards/resolver/linkset-context>; "
        'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    body = response.json()
    validate(body)
    assert list(body) == ["linkset"]
    anchors = [context["anchor"] for context in body["linkset"]]
    assert anchors[0] == ROOT + path.partition("?")[0]
    assert anchors[-1] in (f"{ROOT}{PRODUCT_PATH}", f"{ROOT}{OTHER_PRODUCT}")
    defaults = [c for c in body["linkset"] if f"{VOC}defaultLink" in c]
    assert len(defaults) >= 1
    assert all(len(c[f"{VOC}defaultLink"]) == 1 for c in defaults)


def test_the_old_all_spelling_and_json_accept_also_get_the_linkset(client):
    response = client.get(f"{PRODUCT_PATH}?linkType=all", headers=JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    validate(response.json())


def test_a_labels_linkset_has_every_level_and_the_units_links_carry_the_label(api: Api, client):
    body = client.get(api.path() + "&linkType=linkset").json()
    unit_level, lot_level, product_level = body["linkset"]
    label = f"{ROOT}{api.path()}"
    assert unit_level[f"{VOC}defaultLink"] == [{"href": label, "title": "Kiểm tra sản phẩm này"}]
    assert {t["type"] for t in unit_level[f"{VOC}verificationService"]} == {
        "text/html", "application/json",
    }  # fmt: skip
    assert unit_level[f"{VOC}leaveReview"][0]["href"] == f"{label}#report"
    assert set(lot_level) - {"anchor", "itemDescription"} == {
        f"{VOC}traceability", f"{VOC}epcis", f"{VOC}recallStatus",
    }  # fmt: skip
    assert set(product_level) - {"anchor", "itemDescription"} == {
        f"{VOC}defaultLink", f"{VOC}pip", f"{VOC}certificationInfo",
    }  # fmt: skip
    assert {c["itemDescription"] for c in body["linkset"]} == {"Mắm cáy Hồng Tiến"}


# -- methods, CORS, the description file --------------------------------------------------------


def test_head_options_and_cors(api: Api, client):
    head = client.head(PRODUCT_PATH)
    assert head.status_code == 307
    assert head.headers["location"] == location(client.get(PRODUCT_PATH))
    assert client.head(api.path()).status_code == 200
    assert not api.events.scans  # a HEAD is no scan
    for path in (PRODUCT_PATH, LOT_PATH, "/.well-known/gs1resolver", "/epcis/events"):
        options = client.options(path, headers={"Origin": "https://shop.example"})
        assert options.status_code == 204, path
        assert "GET" in options.headers["allow"]
        assert options.headers["access-control-allow-origin"] == "*"
        methods = options.headers["access-control-allow-methods"]
        assert all(m in methods for m in ("GET", "HEAD", "OPTIONS")), path


def test_the_resolver_description_file(client):
    response = client.get("/.well-known/gs1resolver")
    assert response.status_code == 200
    body = response.json()
    assert body["resolverRoot"] == ROOT
    assert body["supportedPrimaryKeys"] == ["01"]
    assert body["supportedLinkType"][0]["prefix"] == "gs1:"
    assert "gs1:verificationService" in body["supportedLinkTypes"]
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_recall_status_says_recalled_or_not(api: Api, client):
    body = client.get(f"/recall{LOT_PATH}").json()
    assert (body["recalled"], body["status"]) == (False, "shipped")
    missing = client.get(f"/recall{PRODUCT_PATH}/10/NOSUCH", headers=JSON)
    assert (missing.status_code, missing.json()["error"]) == (404, "unknown_batch")


# -- a GS1-aware client's walk -----------------------------------------------------------------


def _follow(client: TestClient, href: str, media: str | None, lang: list[str] | None) -> int:
    """GET a link's target as a client would (its media type and language asked for),
    following redirects on this resolver; the final status."""
    headers = {"Accept": media or "*/*"}
    if lang:
        headers["Accept-Language"] = lang[0]
    for _ in range(5):
        parts = urlsplit(href)
        assert f"{parts.scheme}://{parts.netloc}" == ROOT, href
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""),
                              headers=headers)  # fmt: skip
        if response.status_code not in (301, 302, 303, 307, 308):
            return int(response.status_code)
        href = response.headers["location"]
    raise AssertionError(f"too many redirects from {href}")


def test_a_gs1_aware_clients_walk(api: Api, client):
    # 1. discover: the description file names the root and the keys
    description = client.get("/.well-known/gs1resolver").json()
    assert description["resolverRoot"] == ROOT
    assert "01" in description["supportedPrimaryKeys"]
    # 2. the linkset of what it scanned (a label), by Accept as the standard asks
    path = api.path().removeprefix(description["resolverRoot"])
    linkset = client.get(path, headers=LINKSET)
    validate(linkset.json())
    # 3. every link of every level: 200, or a redirect to a 200
    followed = 0
    for context in linkset.json()["linkset"]:
        for link_type, targets in context.items():
            if link_type in ("anchor", "itemDescription"):
                continue
            for target in targets:
                status = _follow(client, target["href"], target.get("type"), target.get("hreflang"))
                assert status == 200, (link_type, target)
                followed += 1
        # 4. and each anchor's default, as a plain client asks for it
        assert _follow(client, context["anchor"], None, None) == 200
    assert followed >= 12


def test_a_malformed_bare_unit_path_gets_the_verdict_as_the_unit_route_documents(client):
    response = client.get(f"/01/{GTIN}/10/L%C3%A9/21/ABCDEFGHJKMN", headers=JSON)
    assert (response.status_code, response.json()["reason"]) == (400, "malformed")
