"""`ocop-witness`: another office's check that the log shows everyone one history.

Each round (c2sp.org/tlog-witness, pulling instead of being pushed to):

1. Fetch the log's newest checkpoint; it must be signed by the log's key, for its origin:
   the key the root certifies in the trust list (OCOP_WITNESS_TRUST_LIST, checked under
   OCOP_WITNESS_ROOT_KEY; two while the log's key is rotated), or OCOP_WITNESS_LOG_KEY,
   which, when set, overrides the list (tests, development).
2. Compare it with the last checkpoint this witness cosigned (its state file):
   - a smaller tree is refused (SHRANK): a log only grows;
   - the same size with another root is refused (SPLIT_VIEW): two histories were shown;
   - a larger tree needs a consistency proof from the old size that verifies against both
     roots (else INCONSISTENT);
   - the same checkpoint again needs nothing (UNCHANGED).
   A refusal keeps the old state, so every later checkpoint is still judged against what
   was cosigned, and writes both signed checkpoints to an evidence file: together they are
   the log's own proof that it misbehaved, for anyone to check.
3. Write the new state durably (fsync, rename) BEFORE cosigning: a witness that crashed
   after cosigning and forgot it could later be shown a fork of what it cosigned.
4. Cosign (c2sp.org/tlog-cosignature, timestamped) and hand the cosigned checkpoint back
   to the log (POST /log/cosignatures), which serves it to verifiers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console

from auditlog.checkpoint import MalformedCheckpoint, SignedCheckpoint, open_checkpoint
from auditlog.cosignature import CosignatureSigner, cosign
from auditlog.merkle import verify_consistency
from auditlog.note import (
    Ed25519Verifier,
    MalformedNote,
    NoteReason,
    NoteRejected,
    decode_base64,
    encode_base64,
)
from auditlog.settings import WitnessSettings
from contract.bilingual import bilingual, error_message
from keys.errors import KeysError
from keys.keystore import Keystore
from keys.trustlist import TrustList

log = logging.getLogger(__name__)


class Seen(StrEnum):
    """What the witness made of a checkpoint; values are logged and stored, never renamed."""

    COSIGNED = "cosigned"
    UNCHANGED = "unchanged"
    BAD_CHECKPOINT = "bad_checkpoint"
    """Not a checkpoint of this log signed by its key."""
    SHRANK = "shrank"
    SPLIT_VIEW = "split_view"
    INCONSISTENT = "inconsistent"
    """The consistency proof from the last cosigned size does not verify."""
    NOT_ACCEPTED = "not_accepted"
    """Cosigned, but the log did not take the cosignature."""

    @property
    def refused(self) -> bool:
        return self in {Seen.BAD_CHECKPOINT, Seen.SHRANK, Seen.SPLIT_VIEW, Seen.INCONSISTENT}


@dataclass(frozen=True)
class Observation:
    seen: Seen
    detail: str
    size: int | None = None


@dataclass(frozen=True)
class WitnessState:
    """The last checkpoint this witness cosigned."""

    origin: str
    size: int
    root: bytes
    note: str

    def dump(self) -> str:
        fields = {"origin": self.origin, "size": self.size, "root": encode_base64(self.root)}
        return json.dumps({**fields, "note": self.note}, indent=1) + "\n"

    @classmethod
    def load(cls, text: str) -> WitnessState:
        data = json.loads(text)
        return cls(data["origin"], int(data["size"]), decode_base64(data["root"]), data["note"])


def write_durably(path: Path, text: str) -> None:
    """The file is the old one or the new one, never half of either, and on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Witness:
    def __init__(
        self,
        signer: CosignatureSigner,
        *,
        origin: str,
        log_key: Ed25519Verifier | Sequence[Ed25519Verifier],
        log_url: str,
        state_path: Path,
    ) -> None:
        self.signer = signer
        self.origin = origin
        self.log_keys = (log_key,) if isinstance(log_key, Ed25519Verifier) else tuple(log_key)
        if not self.log_keys:
            raise ValueError("a witness needs the log's key")
        self.log_url = log_url.rstrip("/")
        self.state_path = state_path

    def state(self) -> WitnessState | None:
        try:
            return WitnessState.load(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    async def round(self, client: httpx.AsyncClient) -> Observation:
        """One fetch, check, cosign and hand-back; the steps of the module's docstring."""
        # 1. The newest checkpoint, the log's own.
        response = await client.get(f"{self.log_url}/checkpoint")
        response.raise_for_status()
        served = response.text
        try:
            signed = self._open(served)
        except (MalformedNote, MalformedCheckpoint, NoteRejected) as exc:
            return Observation(Seen.BAD_CHECKPOINT, str(exc))
        new = signed.checkpoint
        # 2. Consistent with the last one cosigned.
        old = self.state()
        if old is not None:
            refusal = None
            if new.size < old.size:
                refusal = Observation(
                    Seen.SHRANK, f"the tree shrank from {old.size} to {new.size}", new.size
                )
            elif new.size == old.size and new.root_hash != old.root:
                refusal = Observation(Seen.SPLIT_VIEW, f"two roots for size {new.size}", new.size)
            elif new.size == old.size:
                return Observation(Seen.UNCHANGED, f"size {new.size} again", new.size)
            else:
                url = f"{self.log_url}/proof/consistency/{old.size}/{new.size}"
                proof = await client.get(url)
                if proof.status_code == 404:  # a checkpoint signed that the log cannot prove
                    detail = f"the log has no consistency proof from {old.size} to {new.size}"
                    refusal = Observation(Seen.INCONSISTENT, detail, new.size)
                else:
                    proof.raise_for_status()
                    path = [decode_base64(line) for line in proof.text.splitlines() if line]
                    verdict = verify_consistency(old.size, new.size, old.root, new.root_hash, path)
                    if not verdict.ok:
                        refusal = Observation(Seen.INCONSISTENT, verdict.detail, new.size)
            if refusal is not None:
                self._keep_evidence(refusal, old, served)
                return refusal
        # 3. Remembered before cosigning.
        state = WitnessState(self.origin, new.size, new.root_hash, served)
        write_durably(self.state_path, state.dump())
        # 4. Cosigned and handed back.
        cosigned = cosign(served, self.signer, timestamp=int(time.time()))
        answer = await client.post(
            f"{self.log_url}/cosignatures",
            content=cosigned.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        if answer.status_code != 204:
            detail = f"the log answered {answer.status_code}: {answer.text[:200]}"
            return Observation(Seen.NOT_ACCEPTED, detail, new.size)
        return Observation(Seen.COSIGNED, f"size {new.size} cosigned", new.size)

    def _open(self, served: str) -> SignedCheckpoint:
        """The checkpoint, signed by one of the log's keys (two while it rotates its key)."""
        refusal: NoteRejected | None = None
        for key in self.log_keys:
            try:
                return open_checkpoint(served, origin=self.origin, log=key)
            except NoteRejected as exc:
                if exc.reason is not NoteReason.NO_KNOWN_SIGNATURE:
                    raise
                refusal = exc
        assert refusal is not None  # at least one key
        raise refusal

    def _keep_evidence(self, refusal: Observation, old: WitnessState, served: str) -> None:
        log.critical("refused the log's checkpoint: %s: %s", refusal.seen, refusal.detail)
        evidence = self.state_path.with_name(
            f"{self.state_path.name}.{refusal.seen}.{refusal.size}.{int(time.time())}"
        )
        write_durably(evidence, f"{old.note}\n{served}")


# -- the command line ------------------------------------------------------------------------


def load_witness(settings: WitnessSettings) -> Witness:
    key = Keystore(settings.witness_keystore).load_named_or_only(
        settings.witness_key_id, settings.witness_passphrase.get_secret_value(),
        setting="OCOP_WITNESS_KEY_ID", tool="ocop-witness",
    )  # fmt: skip
    return Witness(
        CosignatureSigner(settings.witness_name, key.private_key),
        origin=settings.witness_log_origin,
        log_key=witness_log_keys(settings),
        log_url=settings.witness_log_url,
        state_path=settings.witness_state,
    )


def witness_log_keys(
    settings: WitnessSettings, now: datetime | None = None
) -> tuple[Ed25519Verifier, ...]:
    """OCOP_WITNESS_LOG_KEY if set (an override), else the trust list's log keys for the
    origin; neither is a start-up error, not a witness that checks nothing."""
    override = settings.log_verifier()
    if override is not None:
        return (override,)
    if settings.witness_trust_list is None or settings.witness_root_key is None:
        raise KeysError(
            bilingual(
                "đặt OCOP_WITNESS_TRUST_LIST và OCOP_WITNESS_ROOT_KEY (hoặc OCOP_WITNESS_LOG_KEY)",
                "set OCOP_WITNESS_TRUST_LIST and OCOP_WITNESS_ROOT_KEY (or OCOP_WITNESS_LOG_KEY)",
            )
        )
    from keys.verify_cli import load_root_key  # the CLI's helper: a key text or a file

    try:
        data = settings.witness_trust_list.read_bytes()
    except OSError as exc:
        raise KeysError(
            bilingual("không đọc được danh sách tin cậy", f"cannot read the trust list: {exc}")
        ) from None
    trust = TrustList.load(data, root_public_key=load_root_key(settings.witness_root_key))
    keys = trust.log_verifiers(now or datetime.now(UTC), origin=settings.witness_log_origin)
    if not keys:
        raise KeysError(
            bilingual(
                f"danh sách tin cậy phiên bản {trust.version} không chứng nhận khóa còn hiệu lực "
                f"nào của nhật ký {settings.witness_log_origin}",
                f"trust list version {trust.version} certifies no usable key of the log "
                f"{settings.witness_log_origin}",
            )
        )
    return keys


async def watch(witness: Witness, interval_s: float, stop: asyncio.Event, *, once: bool) -> bool:
    """Rounds until stopped; True unless a checkpoint was refused."""
    honest = True
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            try:
                seen = await witness.round(client)
                level = logging.CRITICAL if seen.seen.refused else logging.INFO
                log.log(level, "%s: %s", seen.seen, seen.detail)
                honest = honest and not seen.seen.refused
            except httpx.HTTPError as exc:
                log.warning("the log did not answer: %s", exc)
            if once or stop.is_set():
                return honest
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)


def main() -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line
    app = typer.Typer(
        help="A witness of the audit log: checks each new checkpoint against the last it "
        "cosigned, refuses a split view or a shrinking tree, cosigns the rest. Settings: "
        "OCOP_WITNESS_* (NAME, PASSPHRASE and LOG_KEY required).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.command()
    def run(
        once: Annotated[bool, typer.Option(help="one round; exit 1 if it refused")] = False,
    ) -> None:
        """Watch the log until stopped (exit status 1 if any checkpoint was refused)."""
        logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(message)s")
        settings = WitnessSettings()
        witness = load_witness(settings)

        async def serve() -> bool:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            return await watch(witness, settings.witness_interval_s, stop, once=once)

        if not asyncio.run(serve()):
            raise typer.Exit(1)

    @app.command("init-key")
    def init_key(
        keystore: Annotated[Path, typer.Option(envvar="OCOP_WITNESS_KEYSTORE")] = Path(
            ".state/witness-keys"
        ),
        name: Annotated[str, typer.Option(envvar="OCOP_WITNESS_NAME")] = "witness.example",
    ) -> None:
        """Create the witness's key (OCOP_WITNESS_PASSPHRASE); print its verifier key."""
        key = Keystore(keystore).generate_with("OCOP_WITNESS_PASSPHRASE")
        print(CosignatureSigner(name, key.private_key).verifier().vkey)

    try:
        app()
    except (ValidationError, KeysError) as exc:
        console.print(f"[red]error:[/] {error_message(exc)}")
        raise SystemExit(2) from None
