from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import pytest

from contract.verdict import Lang
from interop.digital_link import (
    DateAttribute,
    DigitalLink,
    DigitalLinkDefect,
    DigitalLinkError,
    canonical_uri,
    epcis_uri,
    gtin_link,
    location_uri,
    parse_digital_link,
    party_uri,
)
from tests.world import GTIN, LOT

SERIAL = "7K3M9QX2HD4A"


def parsed(path: str, query: str = "") -> DigitalLink:
    link = parse_digital_link(path, query)
    assert isinstance(link, DigitalLink), link
    return link


@pytest.mark.parametrize(
    ("path", "query", "defect"),
    [
        ("/02/08931234567897", "", DigitalLinkDefect.NOT_GTIN_LINK),
        ("/01", "", DigitalLinkDefect.NOT_GTIN_LINK),
        ("01/08931234567897", "", DigitalLinkDefect.NOT_GTIN_LINK),
        ("/01/89312345678", "", DigitalLinkDefect.BAD_GTIN),  # 11 digits
        ("/01/0893123456789X", "", DigitalLinkDefect.BAD_GTIN),
        ("/01/123456789", "", DigitalLinkDefect.BAD_GTIN),
        ("/01/08931234567890", "", DigitalLinkDefect.BAD_CHECK_DIGIT),
        ("/01/08931234567897/17/260310", "", DigitalLinkDefect.UNKNOWN_AI),
        ("/01/08931234567897/235/X", "", DigitalLinkDefect.UNKNOWN_AI),
        ("/01/08931234567897/21/S1/10/L1", "", DigitalLinkDefect.WRONG_ORDER),
        ("/01/08931234567897/10/L1/22/C", "", DigitalLinkDefect.WRONG_ORDER),
        ("/01/08931234567897/10/L1/10/L2", "", DigitalLinkDefect.WRONG_ORDER),
        ("/01/08931234567897/10", "", DigitalLinkDefect.EXTRA_SEGMENT),
        ("/01/08931234567897/10/L1/extra", "", DigitalLinkDefect.EXTRA_SEGMENT),
        ("/01/08931234567897/lot/L1", "", DigitalLinkDefect.EXTRA_SEGMENT),
        ("/01/08931234567897/10/L1//", "", DigitalLinkDefect.EXTRA_SEGMENT),
        ("/01/08931234567897/10/L%2", "", DigitalLinkDefect.BAD_ESCAPE),
        ("/01/08931234567897/10/L%FF", "", DigitalLinkDefect.BAD_ESCAPE),
        ("/01/08931234567897/10/" + "A" * 21, "", DigitalLinkDefect.BAD_LENGTH),
        ("/01/08931234567897/22/" + "C" * 21, "", DigitalLinkDefect.BAD_LENGTH),
        ("/01/08931234567897/10/L%231", "", DigitalLinkDefect.BAD_CHARACTER),  # '#'
        ("/01/08931234567897/21/L%C3%94", "", DigitalLinkDefect.BAD_CHARACTER),  # 'Ô'
        ("/01/08931234567897", "17=261310", DigitalLinkDefect.BAD_DATE),
        ("/01/08931234567897", "13=260230", DigitalLinkDefect.BAD_DATE),
        ("/01/08931234567897", "15=2603", DigitalLinkDefect.BAD_DATE),
        ("/01/08931234567897", "11=%zz", DigitalLinkDefect.BAD_ESCAPE),
        ("/01/08931234567897", "17=260310&17=260311", DigitalLinkDefect.REPEATED_ATTRIBUTE),
    ],
)
def test_every_malformed_link_gets_its_reason(path, query, defect):
    result = parse_digital_link(path, query)
    assert isinstance(result, DigitalLinkError)
    assert result.defect is defect


def test_every_reason_has_an_english_and_a_vietnamese_sentence():
    for defect in DigitalLinkDefect:
        english, vietnamese = defect.sentence(Lang.EN), defect.sentence(Lang.VI)
        assert english
        assert vietnamese
        assert english != vietnamese


@pytest.mark.parametrize(
    ("key", "gtin14"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("8931234567897", GTIN),  # GTIN-13
        (GTIN, GTIN),
    ],
)
def test_shorter_gtins_are_normalised_to_14_digits(key, gtin14):
    assert parsed(f"/01/{key}").gtin == gtin14
    assert parsed(f"/01/{key}").path == f"/01/{gtin14}"


def test_a_full_link_with_trailing_slash_and_escapes():
    link = parsed(f"/01/{GTIN}/22/V1/10/A%2FB%2BC/21/{SERIAL}/")
    assert (link.gtin, link.cpv, link.lot, link.serial) == (GTIN, "V1", "A/B+C", SERIAL)
    assert link.path == f"/01/{GTIN}/22/V1/10/A%2FB%2BC/21/{SERIAL}"


def test_date_attributes_are_read_and_other_pairs_ignored():
    query = "13=250310&s=4&k=abc&17=260200&15=261231&utm_source=zalo&11=250301"
    link = parsed(f"/01/{GTIN}/10/{LOT}", query)
    assert link.date_of(DateAttribute.PACKAGING) == date(2025, 3, 10)
    assert link.date_of(DateAttribute.EXPIRY) == date(2026, 2, 28)  # DD 00: the month's last day
    assert link.date_of(DateAttribute.BEST_BEFORE) == date(2026, 12, 31)
    assert link.date_of(DateAttribute.PRODUCTION) == date(2025, 3, 1)
    assert parsed(f"/01/{GTIN}", "17=240200").date_of(DateAttribute.EXPIRY) == date(2024, 2, 29)


def test_our_signed_label_is_a_digital_link_a_till_can_read(world):
    label = world.label(serial=SERIAL)
    url = urlsplit(label.url)
    link = parsed(url.path, url.query)
    assert (link.gtin, link.lot, link.serial) == (GTIN, LOT, SERIAL)
    assert link.date_of(DateAttribute.PACKAGING) == label.batch.packed_on


def test_canonical_uris_on_our_root_and_on_id_gs1_org():
    link = parsed(f"/01/8931234567897/22/V1/10/{LOT}/21/{SERIAL}", "17=260310")
    assert canonical_uri(link, "https://ocop.vn") == (
        f"https://ocop.vn/01/{GTIN}/22/V1/10/{LOT}/21/{SERIAL}"
    )
    assert canonical_uri(link) == f"https://id.gs1.org/01/{GTIN}/22/V1/10/{LOT}/21/{SERIAL}"
    # EPCIS: the finest level only, no variant, no query
    assert epcis_uri(link) == f"https://id.gs1.org/01/{GTIN}/21/{SERIAL}"
    assert (
        epcis_uri(parsed(f"/01/{GTIN}/22/V1/10/{LOT}")) == f"https://id.gs1.org/01/{GTIN}/10/{LOT}"
    )
    assert epcis_uri(parsed(f"/01/{GTIN}/22/V1")) == f"https://id.gs1.org/01/{GTIN}"


def test_levels_walk_up_to_the_gtin():
    link = parsed(f"/01/{GTIN}/10/{LOT}/21/{SERIAL}")
    assert [level.path for level in link.levels()] == [
        f"/01/{GTIN}/10/{LOT}/21/{SERIAL}",
        f"/01/{GTIN}/10/{LOT}",
        f"/01/{GTIN}",
    ]
    assert [level.path for level in parsed(f"/01/{GTIN}/21/{SERIAL}").levels()] == [
        f"/01/{GTIN}/21/{SERIAL}",
        f"/01/{GTIN}",
    ]


def test_our_identifiers_as_links():
    assert gtin_link(GTIN, lot=LOT, serial=SERIAL).path == f"/01/{GTIN}/10/{LOT}/21/{SERIAL}"
    with pytest.raises(ValueError, match="check digit is wrong"):
        gtin_link("08931234567890")
    assert location_uri("8930000000019") == "https://id.gs1.org/414/8930000000019"
    assert party_uri("8930000000019") == "https://id.gs1.org/417/8930000000019"
    with pytest.raises(ValueError, match="expected 9"):
        party_uri("8930000000010")
