from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.encoding import JSON, MAX_SAFE_INTEGER, canonical_bytes, decode_canonical
from contract.errors import ContractError

nfc_text = (
    st.text(max_size=20)
    .map(lambda s: unicodedata.normalize("NFC", s))
    .filter(lambda s: all(not 0xD800 <= ord(c) <= 0xDFFF for c in s))
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | nfc_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text("abcxyz_0123", max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def test_known_bytes_sorted_compact_utf8_with_json_escapes():
    value: JSON = {"b": 1, "a": "Mắm cáy", "c": [True, None, -5], "d": 'tab\tquote"\x1f'}
    assert canonical_bytes(value) == (
        '{"a":"Mắm cáy","b":1,"c":[true,null,-5],"d":"tab\\tquote\\"\\u001f"}'.encode()
    )


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ({"price": 1.5}, "price", "floats are not allowed"),
        ([2**53], "0", "integer outside"),
        ({"name": "Me\u0301"}, "name", "not in Unicode NFC"),
        ({"x": ["\ud800"]}, "x.0", "lone surrogate"),
        ({"tên": 1}, "tên", "keys must be ASCII"),
        ({"when": object()}, "when", "no canonical encoding"),
    ],
)
def test_refuses_what_has_no_single_spelling(value, field, message):
    with pytest.raises(ContractError) as caught:
        canonical_bytes(value)
    (problem,) = caught.value.problems
    assert problem.field == field
    assert message in problem.message


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',  # whitespace
        b'{"b":1,"a":2}',  # key order
        b'{"a":1,"a":1}',  # duplicate key
        b'{"a":1.0}',  # float
        b'{"a":NaN}',
        b'{"a":"\\u0041"}',  # escaped printable character
        b'{"a":"\xff"}',  # not UTF-8
        b'{"a":1',  # not JSON
        b'{"a":"e\xcc\x81"}',  # NFD
    ],
)
def test_decoding_refuses_every_other_spelling(data):
    with pytest.raises(ContractError):
        decode_canonical(data)


@settings(max_examples=150)
@given(json_values)
def test_round_trip(value):
    data = canonical_bytes(value)
    assert decode_canonical(data) == value
    assert canonical_bytes(decode_canonical(data)) == data
