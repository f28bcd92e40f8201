"""Circular 02/2024/TT-BKHCN: location codes (GLNs) registered by the authority, the ten items
of Art. 6(5) for every demo product (JSON and page), one step back and one step forward for
a distributor (the rules the batch processors apply), and the expiry date (AI 17) signed in
the label, with labels printed before it still verifying."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import segno

from contract import gs1
from contract.errors import ContractError
from contract.events import (
    BatchOpened,
    BatchReceived,
    BatchShipped,
    PartyRegistered,
    PartyRole,
    RawMaterial,
    Unit,
    decode_event,
    encode_event,
    parse_event,
)
from contract.label import (
    LABEL_TAG_EXPIRY,
    LabelBatch,
    LabelDefect,
    MalformedLabel,
    SignedLabel,
    decode_label,
)
from contract.verdict import Lang, Reason
from demo import cast, parties
from keys.signing import LabelSigner
from keys.verifier import authenticate_label, verify_label
from records import rows
from records.parties import Direction
from stream_processors.rules import BatchStatus
from stream_processors.trace import Named, material_rows, received_row, shipment_of, shipped_row
from tests.world import HOST, LOT, NOW, PACKED_ON, PRODUCER, PRODUCT, World
from verify_api import views
from verify_api.i18n import STRINGS
from verify_api.rendering import _ENV
from verify_api.schemas import StoryStep

EXPIRY = date(2026, 3, 10)
PRODUCER_SITE = parties.SITES[PRODUCER][0].gln
DISTRIBUTOR = parties.DISTRIBUTOR.gln
SHOP = parties.SHOPS["Siêu thị Thái Bình (minh họa)"].gln


def expiring_label(world: World, *, expiry: date = EXPIRY, product: str = PRODUCT) -> SignedLabel:
    batch = LabelBatch(HOST, product, LOT, PACKED_ON, 4, world.producer.key_id, expiry_date=expiry)
    return LabelSigner(world.producer, batch).sign()


# -- GLNs -----------------------------------------------------------------------------------


def test_every_demo_gln_is_valid_and_under_gs1_vietnams_prefix():
    places = parties.places()
    glns = [place.gln for place in places]
    assert len(set(glns)) == len(glns)
    roles = {place.role for place in places}
    assert roles == set(PartyRole)
    for place in places:
        assert gs1.validate_gln(place.gln) == place.gln
        assert place.gln.startswith("893")
    for producer in cast.PRODUCERS:  # every producer has a site and a packing station
        site, station = parties.SITES[producer.producer_id]
        assert (site.role, station.role) == (PartyRole.PRODUCER_SITE, PartyRole.PACKING_STATION)
    assert {p.sold_at for p in cast.PRODUCTS} == set(parties.SHOPS)


def _party(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "party_registered",
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2025-03-10T03:00:00Z",
        "authority_id": "VN-34",
        "gln": DISTRIBUTOR,
        "name": "Công ty phân phối (minh họa)",
        "role": "distributor",
        "address": "Kho số 1",
        "commune": "Phường Bồ Xuyên",
        "province": "Thái Bình",
    }
    return event | changes


def test_a_party_registration_round_trips_canonically():
    event = parse_event(_party())
    assert isinstance(event, PartyRegistered)
    assert decode_event(encode_event(event)) == event
    assert event.topic_key() == DISTRIBUTOR.encode()


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"gln": DISTRIBUTOR[:-1] + str((int(DISTRIBUTOR[-1]) + 1) % 10)}, "check digit"),
        ({"gln": "893200010001"}, "GLN must be 13 digits"),
        ({"gln": "89320001000AB"}, "GLN must be 13 digits"),
        ({"role": "warehouse"}, "role"),
        ({"role": "producer_site"}, "names its producer_id"),
        ({"producer_id": "TB-HTX-HONGTIEN"}, "names its producer_id"),
    ],
)
def test_a_bad_party_registration_is_refused_with_its_reason(changes, said):
    with pytest.raises(ContractError) as caught:
        parse_event(_party(**changes))
    assert said in str(caught.value)


def test_registrations_signed_before_brand_and_standards_keep_their_bytes():
    old = {
        "type": "product_registered",
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2025-03-10T03:00:00.000000Z",
        "authority_id": "VN-34",
        "product_key": PRODUCT,
        "producer_id": PRODUCER,
        "name": "Mắm cáy Hồng Tiến",
        "name_en": None,
        "product_group": "food",
        "description": None,
        "image_url": None,
    }
    data = json.dumps(old, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert encode_event(decode_event(data)) == data
    shipped = BatchShipped(
        event_id=uuid.uuid4(), occurred_at=NOW, batch_id=f"{PRODUCT}/10/{LOT}",
        producer_id=PRODUCER, shipment_id="SH-1", to_party="Shop", units=3,
    )  # fmt: skip
    assert b"from_gln" not in encode_event(shipped)


# -- one step back, one step forward ------------------------------------------------------------


def _state() -> rows.BatchState:
    return rows.BatchState(
        batch_id=f"{PRODUCT}/10/{LOT}", product_key=PRODUCT, producer_id=PRODUCER, lot=LOT,
        production_date=PACKED_ON, expiry_date=EXPIRY, raw_materials="[]", planned_units=10,
        units_packed=10, status=BatchStatus.SHIPPED, recalled_at=None, recall_reason=None,
        received_province=None, head_seq=5, head_hash=b"\x00" * 32,
    )  # fmt: skip


def _event(kind: type, at: datetime, **fields: object):
    return kind(
        event_id=uuid.uuid4(), occurred_at=at, batch_id=f"{PRODUCT}/10/{LOT}",
        producer_id=PRODUCER, **fields,
    )  # fmt: skip


def test_a_distributor_sees_from_whom_it_received_and_to_whom_it_shipped():
    state = _state()
    producer = Named(PRODUCER_SITE, "HTX Hồng Tiến")
    # the producer's site ships to the distributor, which receives it
    to_distributor = shipment_of(
        _event(BatchShipped, NOW, shipment_id="SH-1", to_party="NPP", to_gln=DISTRIBUTOR,
               units=10),
        producer,
    )  # fmt: skip
    forward_of_producer = shipped_row(to_distributor, state)
    received = _event(BatchReceived, NOW + timedelta(hours=5), shipment_id="SH-1",
                      receiver="NPP", receiver_gln=DISTRIBUTOR, units=10)  # fmt: skip
    back_of_distributor = received_row(received, state, to_distributor, producer)
    # the distributor ships on to a shop (recorded by the producer, from the distributor's GLN)
    to_shop = shipment_of(
        _event(BatchShipped, NOW + timedelta(days=1), shipment_id="SH-2", to_party="Siêu thị",
               to_gln=SHOP, units=4, from_gln=DISTRIBUTOR),
        Named(DISTRIBUTOR, "Công ty phân phối"),
    )  # fmt: skip
    forward_of_distributor = shipped_row(to_shop, state)
    at_shop = _event(BatchReceived, NOW + timedelta(days=2), shipment_id="SH-2",
                     receiver="Siêu thị", units=4)  # fmt: skip
    back_of_shop = received_row(at_shop, state, to_shop, producer)

    assert forward_of_producer is not None
    assert (forward_of_producer.gln, forward_of_producer.direction) == (
        PRODUCER_SITE, Direction.SHIPPED,
    )  # fmt: skip
    assert forward_of_producer.other_gln == DISTRIBUTOR
    assert back_of_distributor is not None
    assert (back_of_distributor.gln, back_of_distributor.direction) == (
        DISTRIBUTOR, Direction.RECEIVED,
    )  # fmt: skip
    assert (back_of_distributor.other_gln, back_of_distributor.units) == (PRODUCER_SITE, 10)
    assert forward_of_distributor is not None
    assert (forward_of_distributor.gln, forward_of_distributor.other_gln) == (DISTRIBUTOR, SHOP)
    assert forward_of_distributor.units == 4
    # the shop's receipt names no GLN: the shipment's destination is the receiver
    assert back_of_shop is not None
    assert (back_of_shop.gln, back_of_shop.other_gln) == (SHOP, DISTRIBUTOR)
    assert back_of_shop.other_name == "Công ty phân phối"


def test_parties_without_a_gln_get_no_rows_but_are_named_by_others():
    state = _state()
    unregistered = shipment_of(
        _event(BatchShipped, NOW, shipment_id="SH-1", to_party="Chợ", units=2),
        Named(None, "HTX Hồng Tiến"),
    )
    assert shipped_row(unregistered, state) is None
    receipt = _event(BatchReceived, NOW, shipment_id="SH-1", receiver="Chợ", units=2)
    assert received_row(receipt, state, unregistered, Named(None, "HTX")) is None
    # a shipment recorded before the shipments table: the producer is the sender
    before = _event(BatchReceived, NOW, shipment_id="SH-0", receiver="NPP",
                    receiver_gln=DISTRIBUTOR, units=2)  # fmt: skip
    row = received_row(before, state, None, Named(PRODUCER_SITE, "HTX Hồng Tiến"))
    assert row is not None
    assert row.other_gln == PRODUCER_SITE


def test_a_producer_site_received_its_raw_materials_from_suppliers_with_a_gln():
    opened = _event(
        BatchOpened, NOW, product_key=PRODUCT, lot=LOT, production_date=PACKED_ON,
        expiry_date=EXPIRY,
        raw_materials=(
            RawMaterial(material="cáy", origin="Bãi bồi Hồng Tiến", origin_gln=SHOP,
                        quantity=Decimal(5), unit=Unit.KILOGRAM),
            RawMaterial(material="muối", origin="Chợ", quantity=Decimal(1), unit=Unit.KILOGRAM),
        ),
    )  # fmt: skip
    (row,) = material_rows(opened, Named(PRODUCER_SITE, "HTX"))
    assert (row.gln, row.direction, row.other_gln, row.what) == (
        PRODUCER_SITE, Direction.RECEIVED, SHOP, "cáy",
    )  # fmt: skip
    assert material_rows(opened, Named(None, "HTX")) == []


# -- the ten items of Art. 6(5), for every demo product ---------------------------------------


def _demo_facts(product: cast.Product) -> tuple[rows.Product, rows.Producer]:
    producer = parties.producer_of(product)
    details = parties.DETAILS[product.code]
    return (
        rows.Product(
            product_key=f"/01/{product.gtin}", producer_id=producer.producer_id,
            name=product.name, name_en=product.name_en, product_group=product.group.value,
            description=None, image_url=details.image_url, authority_id=producer.council,
            registered_at=NOW, brand=details.brand, standards=details.standards,
        ),
        rows.Producer(
            producer_id=producer.producer_id, name=producer.name, kind=producer.kind.value,
            address=producer.address, commune=producer.commune, district=producer.district,
            province=producer.province, gln=parties.SITES[producer.producer_id][0].gln,
            authority_id=producer.council, registered_at=NOW,
        ),
    )  # fmt: skip


def _story() -> list[StoryStep]:
    kinds = ("batch_opened", "units_packed", "batch_closed", "batch_shipped", "batch_received")
    steps = [StoryStep(seq=i, kind=k, at=NOW + timedelta(hours=i)) for i, k in enumerate(kinds)]
    steps[3] = steps[3].model_copy(update={"party": "NPP", "party_gln": DISTRIBUTOR})
    steps[4] = steps[4].model_copy(update={"party": "NPP", "gln": DISTRIBUTOR})
    return steps


@pytest.mark.parametrize("product", cast.PRODUCTS, ids=lambda p: p.code)
def test_the_circulars_ten_items_are_on_every_demo_products_page_and_json(world, product):
    key = f"/01/{product.gtin}"
    label = expiring_label(world, product=key)
    verification = authenticate_label(label.url, trust=world.trust(), now=NOW)
    assert verification.genuine
    product_row, producer_row = _demo_facts(product)
    state = replace(_state(), batch_id=label.batch.batch_id, product_key=key)
    resolution = views.vouched(
        verification, [Reason.GENUINE], "signed",
        stars=views.stars_out(world.trust().standing(PRODUCT, PRODUCER, NOW).state, [], 4),
        product=views.product_out(product_row), producer=views.producer_out(producer_row),
        batch=views.batch_out(state, _story()), packed_in_record=2, scans=None, now=NOW,
    )  # fmt: skip
    c = resolution.circular02
    assert c is not None
    items = json.loads(resolution.model_dump_json())["circular02"]
    assert set(items) == {
        "a_name", "b_images", "c_producer_name", "d_producer_address", "dd_stages",
        "e_production_date", "g_traceability_code", "h_brand", "h_serial", "i_expiry_date",
        "k_standards",
    }  # fmt: skip
    for name, value in items.items():
        assert value, f"item {name} is empty for {product.code}"
    assert c.a_name == product.name
    assert c.b_images == [parties.DETAILS[product.code].image_url]
    assert producer_row.province in c.d_producer_address
    assert c.g_traceability_code == f"(01){product.gtin}(10){LOT}(21){label.serial}"
    assert c.h_serial == label.serial
    assert c.i_expiry_date == EXPIRY
    assert c.k_standards == list(parties.DETAILS[product.code].standards)
    for stage in c.dd_stages:  # each with a product code, a location code and a time
        assert stage.product_code == f"(01){product.gtin}(10){LOT}"
        assert stage.location_code
        assert gs1.validate_gln(stage.location_code)
    assert [s.location_code for s in c.dd_stages] == [producer_row.gln] * 4 + [DISTRIBUTOR]

    for lang in Lang:
        page = _ENV.get_template("unit.html").render(
            r=resolution, t=STRINGS[lang], lang=lang, switch_href=f"/x?lang={lang.value}"
        )
        for item in ("a", "b", "c", "d", "dd", "e", "g", "h", "i", "k"):
            found = re.search(rf'id="c02-{item}">(.*?)</dd>', page, re.S)
            assert found, (lang, item)
            assert found.group(1).strip(" —;"), (lang, item)
        assert product.name in page
        assert f"/parties/{DISTRIBUTOR}/trace" in page
        assert label.serial in page


# -- AI 17: the expiry date in the signed label ---------------------------------------------


def test_the_expiry_date_is_a_signed_pair_after_the_packing_date(world):
    label = expiring_label(world)
    assert f"?13=250310&17=260310&s=4&k={world.producer.key_id}&sig=" in label.url
    assert label.signing_bytes().startswith(f'["{LABEL_TAG_EXPIRY}",'.encode())
    assert b'"250310","260310",4' in label.signing_bytes()
    assert decode_label(label.url) == label
    assert verify_label(label.url, trust=world.trust(), now=NOW).reason is Reason.GENUINE


def test_labels_printed_before_still_verify(world):
    old = world.label()
    assert "17=" not in old.url
    assert verify_label(old.url, trust=world.trust(), now=NOW).reason is Reason.GENUINE
    # a till's own 17 pair elsewhere on an old label is not the label's
    later = old.url.replace("&k=", "&17=260310&k=")
    assert decode_label(later) == old


def test_an_expiry_date_changed_removed_or_added_breaks_the_signature(world):
    label = expiring_label(world)
    trust = world.trust()
    changed = label.url.replace("17=260310", "17=270310")
    removed = label.url.replace("&17=260310", "")
    added = world.label().url.replace("?13=250310", "?13=250310&17=260310")
    for forged in (changed, removed, added):
        assert verify_label(forged, trust=trust, now=NOW).reason is Reason.BAD_SIGNATURE, forged


@pytest.mark.parametrize(
    ("text", "defect"),
    [
        ("17=260310", "17=261310"),
        ("17=260310", "17=2603"),
        ("17=260310", "17=260300"),  # GS1's "any day": never printed here
        ("17=260310", "17=240310"),  # before the packing date
    ],
)
def test_a_bad_expiry_date_is_malformed_with_its_reason(world, text, defect):
    url = expiring_label(world).url.replace(text, defect)
    with pytest.raises(MalformedLabel) as caught:
        decode_label(url)
    assert caught.value.defect is LabelDefect.BAD_EXPIRY_DATE
    verdict = verify_label(url, trust=world.trust(), now=NOW)
    assert (verdict.reason, verdict.defect) == (Reason.MALFORMED, LabelDefect.BAD_EXPIRY_DATE)


def test_a_second_expiry_date_is_refused(world):
    url = expiring_label(world).url + "&17=270310"
    with pytest.raises(MalformedLabel) as caught:
        decode_label(url)
    assert caught.value.defect is LabelDefect.BAD_QUERY


def test_the_offline_verifier_warns_of_a_signed_expiry_date_past(world):
    label = expiring_label(world, expiry=date(2025, 3, 20))
    trust = world.trust()
    assert verify_label(label.url, trust=trust, now=NOW).reason is Reason.GENUINE
    later = datetime(2025, 3, 20, 17, 0, tzinfo=NOW.tzinfo)  # 00:00 on the 21st in Vietnam
    verdict = verify_label(label.url, trust=trust, now=later)
    assert verdict.reason is Reason.PAST_EXPIRY
    assert "2025-03-20" in verdict.detail
    assert verdict.as_json()["label"]["expiry_date"] == "2025-03-20"


def test_the_qr_code_stays_version_10_m(world):
    """The figures docs/circular02.md gives: a realistic label (tests.world's host and lot)
    without and with its expiry date."""
    old, new = world.label().url, expiring_label(world).url
    assert (len(old), len(new)) == (184, 194)
    versions = [segno.make(url, error="m", boost_error=False).version for url in (old, new)]
    assert versions == [10, 10]
    # room left at 10-M (213 bytes): a host 19 characters longer still fits
    assert segno.make(new + "x" * 19, error="m", boost_error=False).version == 10
    assert segno.make(new + "x" * 20, error="m", boost_error=False).version == 11
