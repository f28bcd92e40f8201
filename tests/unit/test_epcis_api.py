"""EPCIS 2.0 over the API's test client (verify_api.routes.epcis): a batch's document and the
events query, validated against GS1's EPCIS JSON schema, every eventID compared with
epcis-event-hash-generator's, the query's filters and paging, and its refusals as the EPCIS
REST binding specifies them (RFC 7807 problems named by the EPCIS exception)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from tests.unit.test_api_http import JSON, Api
from tests.unit.test_interop_epcis import reference_hashes, validate
from tests.world import GTIN, LOT, PRODUCER, World

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

GLN = "8930000000019"
LOT_CLASS = f"https://id.gs1.org/01/{GTIN}/10/{LOT}"
DOCUMENT = f"/epcis/batches/01/{GTIN}/10/{LOT}"


@pytest.fixture
def api(world: World) -> Api:
    held = Api(world)
    store = held.shelf.store
    store.producers[PRODUCER] = replace(store.producers[PRODUCER], gln=GLN)
    return held


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app, base_url="http://testserver") as held:
        yield held


def events(client: TestClient, query: str) -> list[dict[str, Any]]:
    response = client.get(f"/epcis/events?{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body)
    assert body["type"] == "EPCISQueryDocument"
    return list(body["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def problem(client: TestClient, query: str, status: int = 400) -> str:
    response = client.get(f"/epcis/events?{query}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    kind = "QueryParameterException" if status == 400 else "QueryTooComplexException"
    assert body["type"] == f"epcisException:{kind}"
    assert body["title"]
    return str(body["detail"])


# -- a batch's document ------------------------------------------------------------------------


def test_a_batchs_document_validates_and_its_ids_are_the_references(client):
    response = client.get(DOCUMENT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.headers["gs1-epcis-version"] == "2.0.0"
    assert response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    validate(document)
    listed = document["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in listed] == ["commissioning"] * 4 + ["shipping"]
    assert [e["eventID"] for e in listed] == reference_hashes(document)
    vocabularies = {v["type"] for v in document["epcisHeader"]["epcisMasterData"]["vocabularyList"]}
    assert "urn:epcglobal:epcis:vtype:BusinessLocation" in vocabularies
    as_json = client.get(DOCUMENT, headers=JSON)
    assert as_json.headers["content-type"] == "application/json"


def test_a_batch_without_records_is_404_and_a_bad_lot_400(client):
    assert client.get(f"/epcis/batches/01/{GTIN}/10/NOSUCH", headers=JSON).status_code == 404
    assert client.get("/epcis/batches/01/08931234567890/10/L1", headers=JSON).status_code == 400


# -- the query ---------------------------------------------------------------------------------


def test_a_lot_class_matches_its_events_with_the_documents_ids(client):
    found = events(client, f"MATCH_anyEPCClass={quote(LOT_CLASS, safe='')}")
    document = client.get(DOCUMENT).json()["epcisBody"]["eventList"]
    with_classes = [e for e in document if "quantityList" in e]
    assert [e["eventID"] for e in found] == [e["eventID"] for e in with_classes]
    on_our_host = events(client, f"MATCH_anyEPCClass=https://ocop.vn/01/{GTIN}/10/{LOT}")
    assert on_our_host == found  # a Digital Link on another host is the same class


def test_a_unit_matches_its_commissioning(api: Api, client):
    serial = api.shelf.labels[1].serial
    found = events(client, f"MATCH_epc=https://id.gs1.org/01/{GTIN}/21/{serial}")
    assert len(found) == 1
    assert found[0]["epcList"] == [f"https://id.gs1.org/01/{GTIN}/21/{serial}"]
    labelled = api.shelf.labels[1].url  # the printed link, signature and all
    assert events(client, "MATCH_epc=" + quote(labelled, safe="")) == found
    assert events(client, f"MATCH_epc=https://id.gs1.org/01/{GTIN}/21/ZZZZZZZZZZZZ") == []


def test_filters(client):
    lot = f"MATCH_anyEPCClass={quote(LOT_CLASS, safe='')}"
    shipped = events(client, f"{lot}&EQ_bizStep=shipping")
    assert [e["bizStep"] for e in shipped] == ["shipping"]
    assert events(client, f"{lot}&EQ_bizStep=urn:epcglobal:cbv:bizstep:shipping") == shipped
    assert events(client, f"{lot}&EQ_bizStep=https://ref.gs1.org/cbv/BizStep-shipping") == shipped
    place = f"https://id.gs1.org/414/{GLN}"
    at_home = events(client, f"{lot}&EQ_bizLocation={quote(place, safe='')}")
    assert {e["bizLocation"]["id"] for e in at_home} == {place}
    assert len(at_home) == 1  # the opening: shipping names no bizLocation
    everything = events(client, lot)
    middle = everything[1]["eventTime"]
    since = events(client, f"{lot}&GE_eventTime={quote(middle, safe='')}")
    before = events(client, f"{lot}&LT_eventTime={quote(middle, safe='')}")
    assert before + since == everything
    assert events(client, f"{lot}&eventType=AggregationEvent") == []


def test_paging_with_next_page_tokens(client):
    lot = f"MATCH_anyEPCClass={quote(LOT_CLASS, safe='')}"
    everything = events(client, lot)
    pages, url = [], f"/epcis/events?{lot}&perPage=1"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
        link = response.headers.get("link")
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        parts = urlsplit(link[1 : link.index(">")])
        url = f"{parts.path}?{parts.query}"
    assert [e for page in pages for e in page] == everything
    assert all(len(page) == 1 for page in pages)
    token = urlsplit(url).query.rpartition("nextPageToken=")[2]
    assert "not a token of this query" in problem(client, f"{lot}&perPage=2&nextPageToken={token}")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        (f"MATCH_anyEPCClass={LOT_CLASS}&foo=1", "unknown parameter 'foo'"),
        (f"MATCH_anyEPCClass={LOT_CLASS}&MATCH_anyEPCClass={LOT_CLASS}", "given twice"),
        (f"MATCH_anyEPCClass={LOT_CLASS}&GE_eventTime=yesterday", "GE_eventTime"),
        (f"MATCH_anyEPCClass={LOT_CLASS}&LT_eventTime=2025-03-10T10:00:00", "offset"),
        (f"MATCH_anyEPCClass={LOT_CLASS}&perPage=0", "perPage"),
        (f"MATCH_anyEPCClass={LOT_CLASS}&perPage=lots", "perPage"),
        (f"MATCH_anyEPCClass={LOT_CLASS}&nextPageToken=nonsense", "nextPageToken"),
        ("MATCH_epc=not a uri", "not a URI"),
        (f"MATCH_anyEPCClass={LOT_CLASS}&EQ_bizStep=", "EQ_bizStep"),
    ],
)
def test_bad_parameters_are_query_parameter_exceptions(client, query, says):
    assert says in problem(client, query)


def test_a_query_naming_no_lot_or_unit_is_too_complex(client):
    assert "MATCH_anyEPCClass" in problem(client, "EQ_bizStep=shipping", 413)
    assert "MATCH_anyEPCClass" in problem(client, "", 413)
    many = "|".join(f"https://id.gs1.org/01/{GTIN}/10/L{n}" for n in range(21))
    assert "at most" in problem(client, f"MATCH_anyEPCClass={quote(many, safe='')}", 413)
