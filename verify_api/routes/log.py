"""The public audit log (auditlog/, docs/auditlog.md), as the log writer built it.

- `/log/checkpoint`: the newest signed checkpoint (C2SP tlog-checkpoint), with the
  witnesses' cosignatures of it when there are any; `/log/checkpoint/cosigned`: the newest
  one that enough witnesses (OCOP_LOG_QUORUM) cosigned.
- `/log/tile/<L>/<N>[.p/<W>]`, `/log/tile/entries/<N>[.p/<W>]`: C2SP tlog-tiles, from which
  any client computes any proof. Full tiles never change (immutable, cached for a year);
  partial ones are served only up to the newest checkpoint.
- `/log/proof/unit/<unit key>`, `/log/proof/batch/<batch id>`: a C2SP tlog-proof bundle of
  the chain record that packed the unit (or the batch's head record, or `?seq=`), against
  the newest cosigned checkpoint that covers it (else the newest checkpoint). Its `extra`
  is the leaf's entry (auditlog.leaves), the log's own copy: a verifier rebuilds the entry
  from the record it holds and compares.
- `/log/proof/consistency/<old>/<new>`: the RFC 9162 consistency proof, one base64 hash a line.
- `POST /log/cosignatures`: a witness hands back a checkpoint with its cosignature; stored
  once the checkpoint is one this log signed and the cosignature verifies under a witness
  key the API trusts: the trust list's witnesses (with its quorum), or OCOP_LOG_WITNESSES
  (with OCOP_LOG_QUORUM), which, when set, override the list (tests, development). The one
  write the API makes besides its events: a signed statement that checks itself, which a
  processor could add nothing to.

The API only reads what the writer built (records.auditlog); proofs are computed from the
stored tiles and checked before they are served.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from auditlog.checkpoint import Checkpoint, MalformedCheckpoint
from auditlog.cosignature import CosignatureVerifier
from auditlog.leaves import record_subject
from auditlog.merkle import HashReader, consistency_proof
from auditlog.note import MalformedNote, Note, NoteSignature, encode_base64, parse_note
from auditlog.proof import build_proof
from auditlog.settings import LogSettings
from auditlog.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    MalformedTile,
    TileHashReader,
    TileId,
    encode_index,
    parse_entry_bundle,
)
from contract import identifiers
from contract.gs1 import AI10_MAX_LENGTH
from keys.errors import TrustListError
from records.auditlog import AuditLogStore, StoredCheckpoint, StoredCosignature
from records.rows import BatchState, Unit
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.schemas import PRODUCT_CODE, SERIAL
from verify_api.trustcache import NoTrustList, TrustCache

router = APIRouter(prefix="/log", tags=["audit log"])

IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=60"
CHECKPOINT_CACHE = "public, max-age=2"
TEXT = "text/plain; charset=utf-8"
MAX_NOTE_BYTES = 16_384
TEXT_BODY = "text/plain"
NOTE: dict[str, Any] = {
    "type": "string",
    "description": "a signed note (c2sp.org/signed-note) of a checkpoint (c2sp.org/"
    "tlog-checkpoint): its text, a blank line, then its signature lines, the witness's among "
    "them; at most 16 KiB of UTF-8",
}
_INDEX_PART = re.compile(r"x[0-9]{3}")
T = TypeVar("T")

_WIDTH = "[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5]"
TILE_PATH: dict[str, Any] = {
    "pattern": "^(?:x(?:00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})/(?:x[0-9]{3}/)*)?[0-9]{3}"
    f"(?:\\.p/(?:{_WIDTH}))?$",
    "examples": ["000", "x001/x234/067", "000.p/17"],
}
"""`parse_tile_path`: a tile index as encode_index spells it (3-digit elements, all but the
last x-prefixed, no leading x000), then `.p/<W>` for a partial tile of W (1-255) entries."""
_PRODUCT_KEY = f"(?:01/[0-9]{{14}}|p/{PRODUCT_CODE['pattern'][1:-1]})"
UNIT_PATH: dict[str, Any] = {
    "pattern": f"^{_PRODUCT_KEY}/21/{SERIAL['pattern'][1:-1]}$",
    "examples": ["01/08930000000019/21/AB12CD34EF56"],
}
"""A unit key without its leading slash (contract.identifiers.unit_key); the GTIN's check
digit, which no pattern can say, is checked by the route (400)."""
_ESCAPED_LOT = f"(?:[A-Za-z0-9._-]|%(?:2[1256789ABCF]|3[A-F])){{1,{AI10_MAX_LENGTH}}}"
BATCH_PATH: dict[str, Any] = {
    "pattern": f"^{_PRODUCT_KEY}/10/{_ESCAPED_LOT}$",
    "examples": ["01/08930000000019/10/L2503", "p/CHE-SHAN-01/10/L-25%2F03"],
}
"""A batch id without its leading slash (contract.identifiers.validate_batch_id): its lot
(AI 10, 1 to 20 characters of GS1 set 82) as dl_escape spells it, every character but
letters, digits, `.`, `_` and `-` percent-escaped in upper case; the GTIN's check digit is
checked by the route (400)."""


class Records(Protocol):
    """What the log's routes read of the records (records.store.RecordReader)."""

    async def unit(self, unit_key: str) -> Unit | None: ...
    async def batch(self, batch_id: str) -> BatchState | None: ...


@dataclass
class AuditLog:
    store: AuditLogStore
    settings: LogSettings
    records: Records
    trust: TrustCache | None = None

    async def witnesses(self) -> tuple[list[CosignatureVerifier], int]:
        """The witnesses whose cosignatures count and how many a checkpoint needs: the
        settings' when set (an override), else the trust list's policy now; none while
        neither names any (nothing is then stored nor served as cosigned)."""
        if self.settings.log_witnesses:
            return self.settings.witness_keys(), self.settings.log_quorum or 1
        if self.trust is None:
            return [], 1
        try:
            held = await self.trust.get()
            policy = held.trust.witness_policy(datetime.now(UTC))
        except (NoTrustList, TrustListError):
            return [], 1
        if policy is None:
            return [], 1
        return list(policy.witnesses), self.settings.log_quorum or policy.quorum


async def get_log(request: Request) -> AuditLog:
    held: AuditLog | None = getattr(request.app.state, "audit_log", None)
    if held is None:
        settings = LogSettings()
        reader = request.app.state.services.store
        store = await asyncio.to_thread(AuditLogStore, reader.session, settings.log_origin)
        trust = request.app.state.services.trust
        held = request.app.state.audit_log = AuditLog(store, settings, reader, trust)
    return held


LogDep = Annotated[AuditLog, Depends(get_log)]


def _text(body: str, cache: str, **headers: str) -> Response:
    return Response(body, media_type=TEXT, headers={"Cache-Control": cache, **headers})


def _with_cosignatures(stored: StoredCheckpoint, cosignatures: list[StoredCosignature]) -> str:
    note = parse_note(stored.note)
    for c in cosignatures:
        note = note.with_signature(NoteSignature(c.witness, c.key_id, c.signature))
    return note.render()


async def _latest(log: AuditLog) -> StoredCheckpoint:
    found = await log.store.latest_checkpoints(1)
    if not found:
        raise ApiError(ErrorCode.NOT_FOUND, "the log has signed no checkpoint yet")
    return found[0]


async def _cosigned(log: AuditLog, at_least: int = 0) -> str | None:
    """The newest checkpoint of size > `at_least` with a quorum of cosignatures, cosigned."""
    witnesses, quorum = await log.witnesses()
    trusted = {(w.name, w.key_id) for w in witnesses}
    by_size: dict[int, list[StoredCosignature]] = {}
    for c in await log.store.recent_cosignatures(200):
        if (c.witness, c.key_id) in trusted:  # a witness since dropped from the list no more
            by_size.setdefault(c.size, []).append(c)
    for size in sorted(by_size, reverse=True):
        if size <= at_least:
            break
        if len({(c.witness, c.key_id) for c in by_size[size]}) >= quorum:
            stored = await log.store.checkpoint(size)
            if stored is not None:
                return _with_cosignatures(stored, by_size[size])
    return None


@router.get(
    "/checkpoint",
    operation_id="log_checkpoint",
    summary="The newest signed checkpoint, with its witnesses' cosignatures",
    response_class=Response,
    responses={
        200: {"content": {TEXT: {}}},
        **error_responses(ErrorCode.NOT_FOUND, ErrorCode.STORE_UNAVAILABLE),
    },
)
async def checkpoint(log: LogDep) -> Response:
    stored = await _latest(log)
    note = _with_cosignatures(stored, await log.store.cosignatures(stored.size))
    return _text(note, CHECKPOINT_CACHE)


@router.get(
    "/checkpoint/cosigned",
    operation_id="log_checkpoint_cosigned",
    summary="The newest checkpoint that a quorum of witnesses cosigned",
    response_class=Response,
    responses={
        200: {"content": {TEXT: {}}},
        **error_responses(ErrorCode.NOT_FOUND, ErrorCode.STORE_UNAVAILABLE),
    },
)
async def cosigned_checkpoint(log: LogDep) -> Response:
    note = await _cosigned(log)
    if note is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no checkpoint has its witnesses' quorum yet")
    return _text(note, CHECKPOINT_CACHE)


def parse_tile_path(path: str) -> tuple[int, int]:
    """`x001/x234/067[.p/<W>]` as (index, width); strictly the spelling encode_index gives."""
    parts = path.split("/")
    width = TILE_WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        if not re.fullmatch(r"[1-9][0-9]{0,2}", parts[-1]) or int(parts[-1]) >= TILE_WIDTH:
            raise ApiError(ErrorCode.BAD_REQUEST, f"partial width {parts[-1]!r} is not 1-255")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][:-2]]
    if not parts or not re.fullmatch(r"[0-9]{3}", parts[-1]):
        raise ApiError(ErrorCode.BAD_REQUEST, f"{path!r} is not a tile index")
    if not all(_INDEX_PART.fullmatch(p) for p in parts[:-1]):
        raise ApiError(ErrorCode.BAD_REQUEST, f"{path!r} is not a tile index")
    index = int("".join(p.lstrip("x") for p in parts))
    if encode_index(index) != "/".join(parts):
        raise ApiError(ErrorCode.BAD_REQUEST, f"{path!r} is not the index's one spelling")
    return index, width


async def _check_served(log: AuditLog, level: int, index: int, width: int) -> None:
    """Only what the newest checkpoint covers: nothing of a step still being written."""
    size = (await _latest(log)).size
    if index * TILE_WIDTH + width > size >> (TILE_HEIGHT * level):
        raise ApiError(ErrorCode.NOT_FOUND, "the newest checkpoint does not cover this tile")


TilePath = Annotated[
    str, Path(description="the tile's index, as tlog-tiles spells it", json_schema_extra=TILE_PATH)
]


@router.get(
    "/tile/entries/{path:path}",
    operation_id="log_entry_bundle",
    summary="An entry bundle (tlog-tiles): 256 entries, each after its uint16 length",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.STORE_UNAVAILABLE),
    },
)
async def entry_bundle(path: TilePath, log: LogDep) -> Response:
    index, width = parse_tile_path(path)
    await _check_served(log, 0, index, width)
    stored = await log.store.bundle(index)
    if stored is None or stored[0] < width:
        raise ApiError(ErrorCode.NOT_FOUND, "no such entry bundle")
    entries = parse_entry_bundle(stored[1], stored[0])[:width]
    data = b"".join(len(e).to_bytes(2, "big") + e for e in entries)
    cache = IMMUTABLE if width == TILE_WIDTH else PARTIAL
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": cache})


@router.get(
    "/tile/{level}/{path:path}",
    operation_id="log_tile",
    summary="A hash tile (tlog-tiles): 256 hashes of one tile level, or its first W",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.STORE_UNAVAILABLE),
    },
)
async def tile(level: Annotated[int, Path(ge=0, le=63)], path: TilePath, log: LogDep) -> Response:
    index, width = parse_tile_path(path)
    await _check_served(log, level, index, width)
    data = await log.store.tile(level, index)
    if data is None or len(data) < width * 32:
        raise ApiError(ErrorCode.NOT_FOUND, "no such tile")
    cache = IMMUTABLE if width == TILE_WIDTH else PARTIAL
    return Response(
        data[: width * 32], media_type="application/octet-stream", headers={"Cache-Control": cache}
    )


class _NeedTile(Exception):
    def __init__(self, tile: TileId) -> None:
        self.tile = tile


async def from_tiles(log: AuditLog, size: int, compute: Callable[[HashReader], T]) -> T:
    """`compute` over the stored tiles of the tree of `size`: each tile it asks for is read
    (once) and the computation run again, a few times for a proof."""
    held: dict[TileId, bytes] = {}

    def fetch(tile: TileId) -> bytes:
        if tile not in held:
            raise _NeedTile(tile)
        return held[tile]

    while True:
        try:
            return compute(TileHashReader(fetch, size))
        except _NeedTile as need:
            data = await log.store.tile(need.tile.level, need.tile.index)
            if data is None or len(data) < need.tile.width * 32:
                raise ApiError(ErrorCode.NOT_FOUND, f"tile {need.tile.path} is missing") from None
            held[need.tile] = data[: need.tile.width * 32]


async def _proof_of(log: AuditLog, subject: str) -> Response:
    index = await log.store.subject_index(subject)
    if index is None:
        raise ApiError(ErrorCode.NOT_FOUND, "this record is not in the log yet")
    signed = await _cosigned(log, at_least=index)
    if signed is None:
        latest = await _latest(log)
        if latest.size <= index:
            raise ApiError(ErrorCode.NOT_FOUND, "no checkpoint covers this record yet")
        signed = _with_cosignatures(latest, await log.store.cosignatures(latest.size))
    size = Checkpoint.parse(parse_note(signed).text).size
    stored = await log.store.bundle(index // TILE_WIDTH)
    if stored is None:
        raise ApiError(ErrorCode.NOT_FOUND, "the record's entry bundle is missing")
    entry = parse_entry_bundle(stored[1], stored[0])[index % TILE_WIDTH]
    try:
        proof = await from_tiles(
            log, size, lambda reader: build_proof(reader, index, signed, extra=entry)
        )
    except (ValueError, MalformedTile) as exc:  # the stored tiles are not the signed tree
        raise ApiError(ErrorCode.NOT_FOUND, f"no valid proof: {exc}") from None
    headers = {"X-OCOP-Log-Index": str(index), "X-OCOP-Log-Size": str(size)}
    return _text(proof.render(), "public, max-age=60", **headers)


_PROOF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {TEXT: {}}, "description": "a c2sp.org/tlog-proof@v1 bundle"},
    **error_responses(
        ErrorCode.BAD_REQUEST,
        ErrorCode.UNKNOWN_UNIT,
        ErrorCode.UNKNOWN_BATCH,
        ErrorCode.NOT_FOUND,
        ErrorCode.STORE_UNAVAILABLE,
    ),
}


@router.get(
    "/proof/unit/{unit:path}",
    operation_id="log_proof_unit",
    summary="A unit's inclusion proof: the record that packed it (its label's digest)",
    description="`unit`: the unit key without its leading slash, e.g. "
    "`01/08930000000019/21/AB12CD34EF56`; **400** for one that is not a unit key (a GTIN's "
    "check digit included). The bundle's `extra` is the leaf entry of the "
    "batch's record that packed the unit; that record's event lists the unit's label digest.",
    response_class=Response,
    responses=_PROOF_RESPONSES,
)
async def unit_proof(
    unit: Annotated[
        str,
        Path(description="the unit key, without its leading slash", json_schema_extra=UNIT_PATH),
    ],
    log: LogDep,
) -> Response:
    product_key, _, serial = f"/{unit}".rpartition("/21/")
    try:
        key = identifiers.unit_key(product_key, serial)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    found = await log.records.unit(key)
    if found is None:
        raise ApiError(ErrorCode.UNKNOWN_UNIT, key)
    return await _proof_of(log, record_subject(found.batch_id, found.seq))


@router.get(
    "/proof/batch/{batch:path}",
    operation_id="log_proof_batch",
    summary="A batch record's inclusion proof (the head, whose hash chains every record)",
    description="`batch`: the batch id without its leading slash, e.g. "
    "`01/08930000000019/10/L2503`, its lot percent-escaped as in the batch id; **400** for "
    "one that is not a batch id (a GTIN's check digit included). `seq` picks a record other "
    "than the head.",
    response_class=Response,
    responses=_PROOF_RESPONSES,
)
async def batch_proof(
    batch: Annotated[
        str,
        Path(description="the batch id, without its leading slash", json_schema_extra=BATCH_PATH),
    ],
    log: LogDep,
    seq: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    try:
        batch_id = identifiers.validate_batch_id(f"/{batch}")
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    state = await log.records.batch(batch_id)
    if state is None or (seq is not None and seq > state.head_seq):
        raise ApiError(ErrorCode.UNKNOWN_BATCH, batch_id)
    return await _proof_of(log, record_subject(batch_id, seq or state.head_seq))


@router.get(
    "/proof/consistency/{old}/{new}",
    operation_id="log_proof_consistency",
    summary="The consistency proof from tree size `old` to size `new` (RFC 9162)",
    description="One base64 hash per line. **400** when `old` is larger than `new`; **404** "
    "when `new` is larger than the newest checkpoint's size.",
    response_class=Response,
    responses={
        200: {"content": {TEXT: {}}},
        **error_responses(ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.STORE_UNAVAILABLE),
    },
)
async def consistency(
    old: Annotated[int, Path(ge=0, description="the older tree size")],
    new: Annotated[int, Path(ge=0, description="the newer tree size, at least `old`")],
    log: LogDep,
) -> Response:
    if old > new:
        raise ApiError(ErrorCode.BAD_REQUEST, f"size {old} is larger than size {new}")
    if new > (await _latest(log)).size:
        raise ApiError(ErrorCode.NOT_FOUND, f"no checkpoint of size {new} or more yet")
    path = await from_tiles(log, new, lambda reader: consistency_proof(reader, old, new))
    return _text("".join(encode_base64(h) + "\n" for h in path), IMMUTABLE)


@router.post(
    "/cosignatures",
    operation_id="log_cosign",
    summary="A witness's cosignature of a checkpoint (c2sp.org/tlog-cosignature)",
    description="The body is the checkpoint as the log signed it, with the witness's "
    "cosignature line(s) added. **400** for a body that is not a checkpoint note (C2SP "
    "signed-note and tlog-checkpoint), **404** for a checkpoint this log did not sign, **403** "
    "for a cosignature by no trusted witness, or one that does not verify. At most 16 KiB.",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "the cosignatures by trusted witnesses are stored"},
        **error_responses(
            ErrorCode.BAD_REQUEST,
            ErrorCode.FORBIDDEN,
            ErrorCode.NOT_FOUND,
            ErrorCode.STORE_UNAVAILABLE,
        ),
    },
    openapi_extra={"requestBody": {"required": True, "content": {TEXT_BODY: {"schema": NOTE}}}},
)
async def cosign(request: Request, log: LogDep) -> Response:
    body = await request.body()
    if len(body) > MAX_NOTE_BYTES:
        raise ApiError(ErrorCode.BAD_REQUEST, "a checkpoint note is at most 16 KiB")
    # 1. A checkpoint note.
    try:
        note = parse_note(body)
        size = Checkpoint.parse(note.text).size
    except (MalformedNote, MalformedCheckpoint) as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    # 2. One this log signed: its text is a stored checkpoint's, byte for byte.
    stored = await log.store.checkpoint(size)
    if stored is None or parse_note(stored.note).text != note.text:
        raise ApiError(ErrorCode.NOT_FOUND, f"this log signed no such checkpoint of size {size}")
    # 3. Cosigned by trusted witnesses, every one of whose cosignatures verifies.
    verified = _verified_cosignatures(note, (await log.witnesses())[0])
    for cosignature in verified:
        await log.store.store_cosignature(
            StoredCosignature(size, cosignature.name, cosignature.key_id, cosignature.signature)
        )
    return Response(status_code=204)


def _verified_cosignatures(note: Note, witnesses: list[CosignatureVerifier]) -> list[NoteSignature]:
    known = {(w.name, w.key_id): w for w in witnesses}
    text = note.text.encode()
    verified = []
    for sig in note.signatures:
        witness = known.get((sig.name, sig.key_id))
        if witness is None:
            continue
        if witness.timestamp(text, sig.signature) is None:
            raise ApiError(ErrorCode.FORBIDDEN, f"the cosignature by {sig.name} does not verify")
        verified.append(sig)
    if not verified:
        raise ApiError(ErrorCode.FORBIDDEN, "no witness this log trusts cosigned the checkpoint")
    return verified
