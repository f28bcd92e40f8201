"""The one canonical byte encoding: what every signature covers and every hash is taken over.

The scheme is RFC 8785 (JSON Canonicalization Scheme) restricted so that it needs no float
formatting, which is where JCS implementations disagree:

- values are objects, arrays, strings, integers, true, false and null; floats, NaN and
  integers outside ±(2**53 - 1) are refused (amounts and scores travel as decimal strings);
- object keys are ASCII (so sorting by code point equals JCS's UTF-16 order), sorted, unique;
- strings must already be in Unicode NFC, so "Hồng Tiến" typed with combining marks on one
  keyboard and precomposed on another cannot become two different documents;
- no whitespace, separators "," and ":", non-ASCII written as UTF-8 (not \\u escapes),
  control characters as JSON escapes (the same bytes Python's json and JCS produce).

Decoding is strict: bytes are accepted only if re-encoding what they parse to gives back the
same bytes, so a document has exactly one wire form and a changed byte is never silently
"repaired" into a valid one.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import TypeAlias, TypeVar

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

from contract.errors import ContractError, Problem

JSON: TypeAlias = "bool | int | str | list[JSON] | tuple[JSON, ...] | dict[str, JSON] | None"

MAX_SAFE_INTEGER = 2**53 - 1

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)

T = TypeVar("T")


def canonical_bytes(value: JSON) -> bytes:
    """Encodes `value` canonically; raises ContractError naming each value that cannot be."""
    if not _encodable(value):
        raise ContractError(_problems(value, "") or [Problem("", "cannot be encoded")])
    return _ENCODER.encode(value).encode("utf-8")


def model_bytes(model: BaseModel) -> bytes:
    """The canonical bytes of a contract model (its JSON form)."""
    return canonical_bytes(model.model_dump(mode="json"))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_canonical(data: bytes) -> JSON:
    """Parses canonical bytes; anything that is not the one canonical form is refused."""
    value = _parse(data)
    _check_canonical(value, data)
    return value


def _parse(data: bytes) -> JSON:
    try:
        text = data.decode("utf-8")
        value: JSON = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_float=_refuse_float,
            parse_constant=_refuse_float,
        )
    except UnicodeDecodeError as exc:
        raise ContractError.single(f"not UTF-8 at byte {exc.start}") from None
    except (ValueError, RecursionError) as exc:
        raise ContractError.single(f"not JSON: {exc}") from None
    return value


def _check_canonical(value: JSON, data: bytes) -> None:
    if canonical_bytes(value) != data:
        raise ContractError.single("not in canonical form (key order, spacing or escapes)")


def decode_model(adapter: TypeAdapter[T], data: bytes) -> T:
    """Decodes canonical bytes into a contract type, refusing any non-canonical spelling.

    The value must survive the round trip: a field the model normalises (an offset turned
    into UTC, a decimal's trailing zero, an upper-case UUID) would otherwise let two byte
    strings stand for one document. Bytes that are the encoding of the validated value are
    also the canonical form of what they parse to, so a valid document is encoded once.

    pydantic's JSON parser reads them first (about a quarter of the time of `_parse`, whose
    hooks only name what is wrong: every scan the analytics take is decoded here; object
    keys are shared, as they repeat, values are not); the test is the same either way, the
    valid value's canonical bytes equal to `data`, which a duplicate key, a float or any
    other spelling fails. What does not pass it so is decoded again by `_decode_strictly`,
    which says what is wrong."""
    try:
        value = adapter.validate_python(pydantic_core.from_json(data, cache_strings="keys"))
        if canonical_bytes(adapter.dump_python(value, mode="json")) == data:
            return value
    except (ValueError, ContractError):  # pydantic's ValidationError is a ValueError
        pass
    return _decode_strictly(adapter, data)


def _decode_strictly(adapter: TypeAdapter[T], data: bytes) -> T:
    """decode_model through Python's parser, which tells a duplicate key, a float or bytes
    that are not UTF-8 or not JSON apart; the parsed value's own form is checked only to
    tell what is wrong (a spelling is reported before the content, as decode_canonical
    would)."""
    raw = _parse(data)
    try:
        value = adapter.validate_python(raw)
    except ValidationError as exc:
        _check_canonical(raw, data)
        raise ContractError.from_validation(exc) from None
    canonical = adapter.dump_python(value, mode="json")
    if canonical_bytes(canonical) != data:
        _check_canonical(raw, data)
        problems = [
            Problem(path, f"not canonical; spelled canonically it is {spelling!r}")
            for path, spelling in _differences(raw, canonical, "")
        ]
        raise ContractError(problems or [Problem("", "not in canonical form")])
    return value


def _encodable(value: object) -> bool:
    """The fast check that signing pays for: no paths are built unless something is wrong."""
    if isinstance(value, str):
        return value.isascii() or not _string_problems(value, "")
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, list | tuple):
        return all(map(_encodable, value))
    if isinstance(value, dict):
        return all(
            isinstance(key, str) and key.isascii() and _encodable(item)
            for key, item in value.items()
        )
    return False


def _problems(value: object, path: str) -> list[Problem]:
    """The slow check that names every bad value, run only once the fast one has failed."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return []
        return [Problem(path, "integer outside ±(2**53 - 1); send it as a decimal string")]
    if isinstance(value, str):
        return _string_problems(value, path)
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in _problems(item, _join(path, i))]
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                found.append(Problem(_join(path, key), "object keys must be ASCII strings"))
            else:
                found.extend(_problems(item, _join(path, key)))
        return found
    if isinstance(value, float):
        return [Problem(path, "floats are not allowed; send a decimal string")]
    return [Problem(path, f"{type(value).__name__} has no canonical encoding")]


def _differences(raw: JSON, canonical: JSON, path: str) -> list[tuple[str, JSON]]:
    if isinstance(raw, dict) and isinstance(canonical, dict) and raw.keys() == canonical.keys():
        return [
            diff for key in raw for diff in _differences(raw[key], canonical[key], _join(path, key))
        ]
    if isinstance(raw, list) and isinstance(canonical, list) and len(raw) == len(canonical):
        return [
            diff
            for i, (a, b) in enumerate(zip(raw, canonical, strict=True))
            for diff in _differences(a, b, _join(path, i))
        ]
    return [] if raw == canonical and type(raw) is type(canonical) else [(path, canonical)]


def _string_problems(text: str, path: str) -> list[Problem]:
    if not unicodedata.is_normalized("NFC", text):
        return [Problem(path, "string is not in Unicode NFC")]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return [Problem(path, "string holds a lone surrogate")]
    return []


def _join(path: str, part: object) -> str:
    return f"{path}.{part}" if path else str(part)


def _unique_keys(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate object key")
    return result


def _refuse_float(token: str) -> JSON:
    raise ValueError(f"number {token} is not an integer")
