"""EPCIS 2.0 and the GS1 resolver on the real stack: a batch packed and shipped through Kafka
and the worker into Cassandra, then its EPCIS document, the events query and the resolver's
links read from `ocop-api` (tests/unit/test_epcis_api.py and test_resolver.py cover every
behaviour over records held in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.integration.test_api_stack import ApiProcess, Storefront, opened_shop, path_of
from tests.unit.test_interop_epcis import reference_hashes, validate
from tests.world import GTIN, PRODUCT

LOT = "L2503EPCIS"
LOT_CLASS = f"https://id.gs1.org/01/{GTIN}/10/{LOT}"


@pytest.fixture(scope="module")
def shop(stack_settings, tmp_path_factory) -> Iterator[tuple[Storefront, ApiProcess]]:
    with opened_shop(stack_settings, tmp_path_factory.mktemp("epcis")) as opened:
        yield opened


@pytest.fixture
def client(shop) -> Iterator[httpx.Client]:
    with shop[1].client() as http:
        yield http


def test_a_shipped_batch_is_an_epcis_document_and_answers_queries(shop, client):
    storefront, _ = shop
    labels = storefront.pack(PRODUCT, LOT, 3, shipped_to="Siêu thị BigC Thái Bình")

    document = client.get(f"/epcis/batches{PRODUCT}/10/{LOT}")
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/ld+json"
    body = document.json()
    validate(body)
    listed = body["epcisBody"]["eventList"]
    assert [(e["action"], e.get("bizStep")) for e in listed] == [
        ("ADD", "commissioning"), ("ADD", "commissioning"), ("OBSERVE", "shipping"),
    ]  # fmt: skip
    assert [e["eventID"] for e in listed] == reference_hashes(body)

    lot = f"MATCH_anyEPCClass={quote(LOT_CLASS, safe='')}"
    first = client.get(f"/epcis/events?{lot}&perPage=1")
    assert first.status_code == 200
    validate(first.json())
    link = first.headers["link"]
    following = urlsplit(link[1 : link.index(">")])
    rest = client.get(f"{following.path}?{following.query}").json()
    pages = [first.json(), rest]
    found = [e for p in pages for e in p["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
    with_lot = [e["eventID"] for e in listed if "quantityList" in e]
    assert [e["eventID"] for e in found] == with_lot

    unit = f"MATCH_epc=https://id.gs1.org/01/{GTIN}/21/{labels[2].serial}"
    (packed,) = client.get(f"/epcis/events?{unit}").json()["epcisBody"]["queryResults"][
        "resultsBody"
    ]["eventList"]
    assert packed["eventID"] == listed[1]["eventID"]
    refused = client.get("/epcis/events?EQ_bizStep=shipping")
    assert refused.status_code == 413
    assert refused.json()["type"] == "epcisException:QueryTooComplexException"

    # the resolver points at the same query, and a label scan still gets its page
    to_epcis = client.get(f"{PRODUCT}/10/{LOT}?linkType=gs1:epcis", follow_redirects=False)
    assert to_epcis.status_code == 307
    assert urlsplit(to_epcis.headers["location"]).query.startswith(lot)
    assert client.get(path_of(labels[0]), headers={"Accept": "text/html"}).status_code == 200
