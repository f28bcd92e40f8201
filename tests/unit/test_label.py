from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import gs1
from contract.encoding import canonical_bytes
from contract.identifiers import SERIAL_ALPHABET
from contract.label import (
    LABEL_TAG,
    LabelBatch,
    LabelDefect,
    MalformedLabel,
    SignedLabel,
    decode_label,
)
from tests.world import GTIN, LOT, PRODUCT

SIGNATURE = bytes(range(64))
KEY_ID = "abcdefghijklm"

gtins = st.text("0123456789", min_size=13, max_size=13).map(lambda b: b + str(gs1.check_digit(b)))
product_keys = gtins.map(lambda g: f"/01/{g}") | st.from_regex(r"\A[A-Z0-9][A-Z0-9-]{2,19}\Z").map(
    lambda code: f"/p/{code}"
)
lots = st.text(sorted(gs1.CSET82), min_size=1, max_size=20)
serials = st.text(SERIAL_ALPHABET, min_size=12, max_size=12)
hosts = st.from_regex(r"\A[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}\Z")
batches = st.builds(
    LabelBatch,
    host=hosts,
    product_key=product_keys,
    lot=lots,
    packed_on=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    stars=st.sampled_from([0, 3, 4, 5]),
    key_id=st.from_regex(r"\A[a-z2-7]{13}\Z"),
)


def realistic() -> SignedLabel:
    return SignedLabel(
        LabelBatch("ocop.vn", PRODUCT, LOT, date(2025, 3, 10), 4, KEY_ID), "7K3M9QXD2RTA", SIGNATURE
    )


def test_url_shape():
    url = realistic().url
    assert url.startswith(
        f"https://ocop.vn/01/{GTIN}/10/{LOT}/21/7K3M9QXD2RTA?13=250310&s=4&k={KEY_ID}&sig="
    )
    assert len(url) == 184


def test_a_digest_names_one_label_byte_for_byte():
    label = realistic()
    assert len(label.digest) == 22  # 16 bytes of base64url
    changed_signature = SignedLabel(label.batch, label.serial, bytes(63) + b"\x01")
    changed_serial = SignedLabel(label.batch, "7K3M9QXD2RTB", label.signature)
    changed_stars = SignedLabel(replace(label.batch, stars=5), label.serial, label.signature)
    changed_host = SignedLabel(replace(label.batch, host="ocop.gov.vn"), label.serial, SIGNATURE)
    digests = {label.digest} | {
        other.digest for other in (changed_signature, changed_serial, changed_stars, changed_host)
    }
    assert len(digests) == 5
    assert decode_label(label.url).digest == label.digest


def test_products_without_gtin_use_the_p_path():
    label = SignedLabel(
        LabelBatch("ocop.vn", "/p/TB-BANHCAY-01", "L/2025", date(2025, 3, 10), 0, KEY_ID),
        "7K3M9QXD2RTA",
        SIGNATURE,
    )
    assert "/p/TB-BANHCAY-01/10/L%2F2025/21/" in label.url
    assert decode_label(label.url) == label


@settings(max_examples=200)
@given(batches, serials, st.binary(min_size=64, max_size=64))
def test_round_trip(batch, serial, signature):
    label = SignedLabel(batch, serial, signature)
    assert decode_label(label.url) == label


@settings(max_examples=100)
@given(batches, serials)
def test_spliced_signing_bytes_are_the_canonical_encoding(batch, serial):
    expected = canonical_bytes(
        [
            LABEL_TAG,
            batch.host,
            batch.product_key,
            batch.lot,
            serial,
            batch.packed_on.strftime("%y%m%d"),
            batch.stars,
            batch.key_id,
        ]
    )
    assert batch.signing_bytes(serial) == expected


URL = realistic().url


@pytest.mark.parametrize(
    ("text", "defect"),
    [
        (URL + "&x=" + "A" * 2_048, LabelDefect.TOO_LONG),
        (URL.replace("https://", "http://"), LabelDefect.NOT_HTTPS),
        ("ocop.vn/01/" + GTIN, LabelDefect.NOT_HTTPS),
        (URL.replace("ocop.vn", "OCOP.vn"), LabelDefect.BAD_HOST),
        (URL.replace("/10/", "/11/"), LabelDefect.BAD_PATH),
        (URL.replace("/01/", "/02/"), LabelDefect.BAD_PATH),
        (URL.replace(GTIN, GTIN[:-1] + "0"), LabelDefect.BAD_GTIN),
        (URL.replace(GTIN, GTIN[1:]), LabelDefect.BAD_GTIN),
        (URL.replace(f"/01/{GTIN}", "/p/x"), LabelDefect.BAD_PRODUCT_CODE),
        (URL.replace(LOT, "L%20" + LOT[3:]), LabelDefect.BAD_LOT),
        (URL.replace(LOT, "A" * 21), LabelDefect.BAD_LOT),
        (URL.replace("7K3M9QXD2RTA", "7K3M9QXD2RTI"), LabelDefect.BAD_SERIAL),
        (URL.replace("&s=4", ""), LabelDefect.BAD_QUERY),
        (URL.replace("?13=250310&s=4", "?s=4&13=250310"), LabelDefect.BAD_QUERY),
        (URL.replace("&s=4", "&s=4&s=5"), LabelDefect.BAD_QUERY),  # a signed pair twice
        (URL + "&k=" + KEY_ID, LabelDefect.BAD_QUERY),
        (URL.replace("13=250310", "13=250230"), LabelDefect.BAD_PACK_DATE),
        (URL.replace("13=250310", "13=2503"), LabelDefect.BAD_PACK_DATE),
        (URL.replace("s=4", "s=2"), LabelDefect.BAD_STARS),
        (URL.replace("s=4", "s=x"), LabelDefect.BAD_STARS),
        (URL.replace(KEY_ID, KEY_ID.upper()), LabelDefect.BAD_KEY_ID),
        (URL[:-1], LabelDefect.BAD_SIGNATURE_ENCODING),
        (URL + "#x", LabelDefect.BAD_SIGNATURE_ENCODING),
        (URL[:-1] + "B", LabelDefect.BAD_SIGNATURE_ENCODING),  # unused low bits set
        (URL.replace("L2503A0001", "%4C2503A0001"), LabelDefect.NOT_CANONICAL),
    ],
)
def test_every_defect_has_its_reason(text, defect):
    with pytest.raises(MalformedLabel) as caught:
        decode_label(text)
    assert caught.value.defect is defect
    assert caught.value.problems[0].message


@pytest.mark.parametrize(
    "text",
    [
        URL + "&utm_source=zalo&fbclid=IwAR0x",
        URL + "&fbclid=" + "IwAR0x" * 100,  # a messaging app's long tracking pair
        URL.replace("?13=", "?utm_source=x&13=").replace("&k=", "&17=301231&k="),
        URL + "&",
        URL.replace("&sig=", "&flag&sig="),  # a bare word is no pair of ours either
    ],
)
def test_pairs_that_are_not_signed_are_ignored_wherever_they_stand(text):
    assert decode_label(text) == decode_label(URL)


def test_lower_case_escapes_are_not_canonical():
    label = SignedLabel(
        LabelBatch("ocop.vn", PRODUCT, "A/B", date(2025, 3, 10), 4, KEY_ID),
        "7K3M9QXD2RTA",
        SIGNATURE,
    )
    with pytest.raises(MalformedLabel) as caught:
        decode_label(label.url.replace("%2F", "%2f"))
    assert caught.value.defect is LabelDefect.NOT_CANONICAL


def test_batch_fields_are_validated_when_signing():
    with pytest.raises(MalformedLabel) as caught:
        LabelBatch("ocop.vn", PRODUCT, LOT, date(2025, 3, 10), 2, KEY_ID)
    assert caught.value.defect is LabelDefect.BAD_STARS


def test_a_label_names_its_batch():
    assert realistic().batch.batch_id == f"{PRODUCT}/10/{LOT}"


def test_packing_window_is_the_day_in_vietnam():
    start, end = realistic().batch.packing_window()
    assert start.isoformat() == "2025-03-09T17:00:00+00:00"
    assert (end - start).days == 1
