from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import pytest
from epcis_event_hash_generator import hash_generator, json_to_py

from contract.certification import ProductGroup
from contract.events import (
    BatchClosed,
    BatchEvent,
    BatchOpened,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    ProducerKind,
    ProducerRegistered,
    ProductRegistered,
    RawMaterial,
    Unit,
    UnitsPacked,
)
from contract.identifiers import batch_id
from interop.epcis import EPCISDocument, batch_document, event_time
from interop.event_hash import canonical_value, event_hash, pre_hash_string, utc_millis
from tests.world import GTIN, HOST, LOT, NOW, OTHER_PRODUCT, PACKED_ON, PRODUCER, PRODUCT

ROOT = f"https://{HOST}"
PRODUCER_GLN = "8930000000019"
SHOP_GLN = "8930000000026"
BATCH = batch_id(PRODUCT, LOT)
SERIALS = ("7K3M9QXD2RTA", "0000000000ZZ", "HD4A7K3M9QX2")
EXPIRY = date(2026, 3, 9)
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "interop" / "schemas" / "epcis-json-schema.json").read_text()
)
FORMATS = jsonschema.Draft7Validator.FORMAT_CHECKER


def batch_events(product_key: str = PRODUCT) -> list[BatchEvent]:
    batch = {"batch_id": batch_id(product_key, LOT), "producer_id": PRODUCER}
    return [
        BatchOpened(
            event_id=uuid4(),
            occurred_at=NOW - timedelta(days=2, microseconds=-123_456),
            **batch,
            product_key=product_key,
            lot=LOT,
            production_date=PACKED_ON - timedelta(days=2),
            expiry_date=EXPIRY,
            raw_materials=(
                RawMaterial(
                    material="Cáy (cua đồng)",
                    origin="xã Hồng Tiến, Kiến Xương, Thái Bình",
                    quantity=Decimal("120.5"),
                    unit=Unit.KILOGRAM,
                ),
            ),
            planned_units=400,
        ),
        UnitsPacked(
            event_id=uuid4(),
            occurred_at=NOW,
            **batch,
            serials=SERIALS,
            stars=4,
            key_id="abcdefghijklm",
            packed_on=PACKED_ON,
        ),
        BatchClosed(
            event_id=uuid4(), occurred_at=NOW + timedelta(hours=1), **batch, units_packed=3
        ),
        BatchShipped(
            event_id=uuid4(),
            occurred_at=NOW + timedelta(days=1),
            **batch,
            shipment_id="SHIP-2025-0042",
            to_party="Cửa hàng OCOP Thái Bình",
            to_gln=SHOP_GLN,
            to_province="Thái Bình",
            units=2,
        ),
        BatchReceived(
            event_id=uuid4(),
            occurred_at=NOW + timedelta(days=2),
            **batch,
            shipment_id="SHIP-2025-0042",
            receiver="Cửa hàng OCOP Thái Bình",
            receiver_gln=SHOP_GLN,
            receiver_province="Thái Bình",
            units=2,
        ),
        BatchShipped(  # to a buyer without a GLN: no party or place to name
            event_id=uuid4(),
            occurred_at=NOW + timedelta(days=3),
            **batch,
            shipment_id="SHIP-2025-0043",
            to_party="Chợ Bo",
            units=1,
        ),
        BatchRecalled(
            event_id=uuid4(),
            occurred_at=NOW + timedelta(days=20),
            **batch,
            recalled_by="VN-34",
            reason="Nhãn ghi sai hạn sử dụng",
        ),
    ]


PRODUCER_REGISTERED = ProducerRegistered(
    event_id=uuid4(),
    occurred_at=NOW - timedelta(days=400),
    authority_id="VN-34",
    producer_id=PRODUCER,
    name="HTX Hồng Tiến",
    kind=ProducerKind.COOPERATIVE,
    address="Thôn Nam, xã Hồng Tiến",
    commune="Hồng Tiến",
    district="Kiến Xương",
    province="Thái Bình",
    gln=PRODUCER_GLN,
)
PRODUCT_REGISTERED = ProductRegistered(
    event_id=uuid4(),
    occurred_at=NOW - timedelta(days=300),
    authority_id="VN-34",
    product_key=PRODUCT,
    producer_id=PRODUCER,
    name="Mắm cáy Hồng Tiến",
    product_group=ProductGroup.FOOD,
)


def document(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "root": ROOT,
        "now": NOW + timedelta(days=400),
        "product": PRODUCT_REGISTERED,
        "producer": PRODUCER_REGISTERED,
    }
    events = changes.pop("events", None) or batch_events()
    built: EPCISDocument = batch_document(events, **(arguments | changes))
    return built.as_json()


def validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(SCHEMA, format_checker=FORMATS).validate(doc)


def reference_hashes(doc: dict[str, Any]) -> list[str]:
    """What RalphTro's epcis-event-hash-generator computes for each event of the document."""
    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(doc))
    return list(hash_generator.epcis_hashes_from_events(events))


def reference_pre_hashes(doc: dict[str, Any]) -> list[str]:
    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(doc))
    return list(hash_generator.derive_prehashes_from_events(events))


def test_the_format_checker_checks_the_schemas_formats():
    assert {"date-time", "uri"} <= set(FORMATS.checkers)
    assert not FORMATS.conforms("2025-03-10 10:00", "date-time")
    assert not FORMATS.conforms("not a uri", "uri")


@pytest.mark.parametrize(
    "doc",
    [
        document(),
        document(now=NOW, product=None, producer=None),
        document(events=batch_events(OTHER_PRODUCT)),
    ],
    ids=["full", "no master data", "product without GTIN"],
)
def test_documents_validate_against_gs1s_epcis_schema(doc):
    validate(doc)


def test_the_schema_check_is_real():
    doc = document()
    doc["epcisBody"]["eventList"][0]["ilmd"] = {"cbvmda:lotNumber": LOT}
    doc["epcisBody"]["eventList"][0]["action"] = "OBSERVE"  # ILMD only with ADD
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


@pytest.mark.parametrize("product_key", [PRODUCT, OTHER_PRODUCT])
def test_every_event_id_is_what_the_reference_implementation_computes(product_key):
    doc = document(events=batch_events(product_key))
    ids = [event["eventID"] for event in doc["epcisBody"]["eventList"]]
    assert len(set(ids)) == len(ids) == 7
    assert ids == reference_hashes(doc)
    assert all(i.startswith("ni:///sha-256;") and i.endswith("?ver=CBV2.0") for i in ids)


def test_the_pre_hash_strings_are_the_reference_implementations():
    doc = document()
    ours = [pre_hash_string(event) for event in doc["epcisBody"]["eventList"]]
    assert ours == reference_pre_hashes(doc)
    assert ours[2] == (
        "eventType=ObjectEvent"
        "eventTime=2025-03-11T03:00:00.000ZeventTimeZoneOffset=+07:00"
        f"quantityListquantityElementepcClass=https://id.gs1.org/01/{GTIN}/10/{LOT}quantity=2"
        "action=OBSERVE"
        "bizStep=https://ref.gs1.org/cbv/BizStep-shipping"
        "disposition=https://ref.gs1.org/cbv/Disp-in_transit"
        f"readPointid=https://id.gs1.org/414/{PRODUCER_GLN}"
        "destinationList"
        f"type=https://ref.gs1.org/cbv/SDT-locationdestination=https://id.gs1.org/414/{SHOP_GLN}"
        "type=https://ref.gs1.org/cbv/SDT-owning_party"
        f"destination=https://id.gs1.org/417/{SHOP_GLN}"
        "sourceList"
        f"type=https://ref.gs1.org/cbv/SDT-locationsource=https://id.gs1.org/414/{PRODUCER_GLN}"
        f"type=https://ref.gs1.org/cbv/SDT-owning_partysource=https://id.gs1.org/417/{PRODUCER_GLN}"
    )


def test_label_links_hash_as_their_id_gs1_org_form(world):
    """A unit named by its full label URL (our host, lot, signature query) or by its EPCIS id
    is the same unit: the hash, ours and the reference's, does not see the difference."""
    label_url = world.label(serial=SERIALS[0]).url
    doc = document()
    packed = doc["epcisBody"]["eventList"][1]
    assert packed["epcList"][0] == f"https://id.gs1.org/01/{GTIN}/21/{SERIALS[0]}"
    assert "?" not in json.dumps(packed["epcList"])
    relabelled = copy.deepcopy(doc)
    relabelled["epcisBody"]["eventList"][1]["epcList"][0] = label_url
    del relabelled["epcisBody"]["eventList"][1]["eventID"]
    assert event_hash(relabelled["epcisBody"]["eventList"][1]) == packed["eventID"]
    assert reference_hashes(relabelled)[1] == packed["eventID"]


def test_cbv_urns_and_times_are_canonicalised_as_the_reference_does():
    doc = document()
    event = doc["epcisBody"]["eventList"][2]
    original = event.pop("eventID")
    event["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"
    event["disposition"] = "urn:epcglobal:cbv:disp:in_transit"
    event["eventTime"] = "2025-03-11T10:00:00.000400+07:00"
    assert event_hash(event) == reference_hashes(doc)[2] == original
    assert utc_millis("2025-03-11T10:00:00.0005+07:00") == "2025-03-11T03:00:00.001Z"
    assert utc_millis("2025-03-11T03:00:00Z") == "2025-03-11T03:00:00.000Z"
    assert canonical_value(" cbv:Disp-active ") == "https://ref.gs1.org/cbv/Disp-active"


def test_the_events_say_what_happened_to_the_batch():
    events = document()["epcisBody"]["eventList"]
    opened, packed, shipped, received, shipped_no_gln, recalled, expired = events
    assert opened["quantityList"] == [
        {"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{LOT}", "quantity": 400}
    ]
    assert opened["ilmd"] == {
        "cbvmda:lotNumber": LOT,
        "cbvmda:itemExpirationDate": "2026-03-09",
    }
    assert (opened["action"], opened["bizStep"], opened["disposition"]) == (
        "ADD",
        "commissioning",
        "active",
    )
    assert opened["eventTime"] == "2025-03-08T10:00:00.123+07:00"  # microseconds dropped
    assert opened["readPoint"] == {"id": f"https://id.gs1.org/414/{PRODUCER_GLN}"}
    assert packed["epcList"] == [f"https://id.gs1.org/01/{GTIN}/21/{s}" for s in SERIALS]
    assert packed["ilmd"] == opened["ilmd"]
    assert shipped["sourceList"] == [
        {"type": "owning_party", "source": f"https://id.gs1.org/417/{PRODUCER_GLN}"},
        {"type": "location", "source": f"https://id.gs1.org/414/{PRODUCER_GLN}"},
    ]
    assert received["bizLocation"] == {"id": f"https://id.gs1.org/414/{SHOP_GLN}"}
    assert (received["bizStep"], received["disposition"]) == ("receiving", "in_progress")
    assert "destinationList" not in shipped_no_gln
    assert recalled["disposition"] == "recalled"
    assert (expired["disposition"], expired["eventTime"]) == (
        "expired",
        "2026-03-10T00:00:00.000+07:00",
    )
    assert all(event["eventTimeZoneOffset"] == "+07:00" for event in events)


def test_the_expiry_is_an_event_only_once_its_day_is_over():
    last_moment = datetime.fromisoformat("2026-03-09T23:59:59.999+07:00")
    before = document(now=last_moment)["epcisBody"]["eventList"]
    after = document(now=last_moment + timedelta(milliseconds=1))["epcisBody"]["eventList"]
    assert before[-1]["disposition"] == "recalled"
    assert after[-1]["disposition"] == "expired"
    assert event_time(last_moment) == "2026-03-09T23:59:59.999+07:00"


def test_master_data_names_the_product_parties_and_places():
    doc = document()
    vocabularies = {
        v["type"]: v["vocabularyElementList"]
        for v in doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    }
    assert vocabularies["urn:epcglobal:epcis:vtype:EPCClass"] == [
        {
            "id": f"https://id.gs1.org/01/{GTIN}",
            "attributes": [
                {"id": "urn:epcglobal:cbv:mda#descriptionShort", "attribute": "Mắm cáy Hồng Tiến"}
            ],
        }
    ]
    places = {e["id"]: e for e in vocabularies["urn:epcglobal:epcis:vtype:BusinessLocation"]}
    assert set(places) == {
        f"https://id.gs1.org/414/{PRODUCER_GLN}",
        f"https://id.gs1.org/414/{SHOP_GLN}",
    }
    parties = vocabularies["urn:epcglobal:epcis:vtype:Party"]
    assert [p["id"] for p in parties] == [
        f"https://id.gs1.org/417/{PRODUCER_GLN}",
        f"https://id.gs1.org/417/{SHOP_GLN}",
    ]
    assert "epcisHeader" not in document(product=None, producer=None, events=batch_events()[:1])


def test_a_product_without_gtin_is_named_on_our_resolver():
    events = document(events=batch_events(OTHER_PRODUCT))["epcisBody"]["eventList"]
    assert events[0]["quantityList"][0]["epcClass"] == f"{ROOT}{OTHER_PRODUCT}/10/{LOT}"
    assert events[1]["epcList"][0] == f"{ROOT}{OTHER_PRODUCT}/21/{SERIALS[0]}"


def test_only_one_batch_with_its_opening():
    events = batch_events()
    with pytest.raises(ValueError, match="exactly one BatchOpened"):
        batch_document(events[1:], root=ROOT, now=NOW)
    with pytest.raises(ValueError, match="one batch's"):
        batch_document([*events, *batch_events(OTHER_PRODUCT)[1:2]], root=ROOT, now=NOW)


def test_an_event_with_fields_the_hash_does_not_know_is_refused():
    event = document()["epcisBody"]["eventList"][0]
    with pytest.raises(ValueError, match="sensorElementList"):
        event_hash({**event, "sensorElementList": []})
    with pytest.raises(ValueError, match="ILMD field"):
        event_hash({**event, "ilmd": {"lotNumber": LOT}})
