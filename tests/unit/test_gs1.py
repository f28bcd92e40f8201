from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import gs1, identifiers
from contract.identifiers import KeyScheme

digits = st.text("0123456789", min_size=13, max_size=13)


@pytest.mark.parametrize(
    ("body", "check"),
    [("0893123456789", 7), ("629104150021", 3), ("9638507", 4), ("400638133393", 1)],
)
def test_check_digits_of_published_codes(body, check):
    assert gs1.check_digit(body) == check


@given(digits, st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_error_is_caught(body, position, shift):
    gtin = body + str(gs1.check_digit(body))
    assert gs1.validate_gtin14(gtin) == gtin
    changed = gtin[:position] + str((int(gtin[position]) + shift) % 10) + gtin[position + 1 :]
    with pytest.raises(ValueError, match="check digit"):
        gs1.validate_gtin14(changed)


def test_normalize_pads_shorter_gtins_to_14():
    assert gs1.normalize_gtin("96385074") == "00000096385074"
    assert gs1.normalize_gtin("8931234567897") == "08931234567897"
    with pytest.raises(ValueError, match="8 or 12 or 13 or 14 digits"):
        gs1.normalize_gtin("123456789")


@pytest.mark.parametrize(
    ("lot", "message"),
    [
        ("", "1 to 20 characters"),
        ("A" * 21, "1 to 20 characters"),
        ("LÔ 1", "outside GS1 set 82"),
        ("L#1", "outside GS1 set 82"),
    ],
)
def test_lot_rules_of_ai_10(lot, message):
    with pytest.raises(ValueError, match=message):
        gs1.validate_lot(lot)


def test_gln_needs_13_digits_and_a_good_check_digit():
    assert gs1.validate_gln("8930000000019") == "8930000000019"
    with pytest.raises(ValueError, match="expected 9"):
        gs1.validate_gln("8930000000010")


def test_serials_are_unpredictable_in_form_and_spread_over_the_alphabet():
    serials = {identifiers.new_serial() for _ in range(3000)}
    assert len(serials) == 3000
    assert set("".join(serials)) == set(identifiers.SERIAL_ALPHABET)
    assert not set("ILOU") & set(identifiers.SERIAL_ALPHABET)
    for serial in serials:
        assert identifiers.validate_serial(serial) == serial


@given(st.text(sorted(gs1.CSET82), min_size=1, max_size=20))
def test_batch_id_round_trips_any_lot(lot):
    product = identifiers.product_key(KeyScheme.GTIN, "08931234567897")
    batch = identifiers.batch_id(product, lot)
    assert identifiers.split_batch_id(batch) == (product, lot)
    assert batch.count("/") == 4  # the lot's own slashes are escaped


@pytest.mark.parametrize(
    "key", ["/02/08931234567897", "/01/08931234567890", "/p/ab", "01/08931234567897", "/p/A/B"]
)
def test_product_keys_refused(key):
    with pytest.raises(ValueError, match=r"product key|check digit|product code"):
        identifiers.split_product_key(key)
