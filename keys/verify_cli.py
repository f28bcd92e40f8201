"""`ocop-verify`: check a label offline, from its QR text or a photo/scan of it.

    ocop-verify 'https://ocop.vn/01/...' --trust-list trust.json --root-key root.pub
    ocop-verify label.png --trust-list trust.json --root-key <base64url public key>

The audit log and the status list (issue 21), all optional:

    --log-proof unit.proof     a c2sp.org/tlog-proof of the unit (GET /log/proof/unit/...)
    --checkpoint cosigned.txt  a cached cosigned checkpoint (GET /log/checkpoint/cosigned)
    --online https://ocop.vn   fetch the unit's proof (and the status list) from the API
    --status status.txt        a signed status list (GET /.well-known/ocop-status-list)
    --max-checkpoint-age 24    hours after which the newest witnessed checkpoint is warned of

Without a proof it says that the log was not checked. A proof that does not verify is a
failure with its reason, and makes the exit status 1 whatever the label's verdict.

Exit status: 0 genuine (and any log proof given verifies), 1 any other verdict or a failed
log proof, 2 when no verdict could be reached (no readable trust list, no QR code).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image, UnidentifiedImageError

from contract.bilingual import bilingual
from contract.errors import ContractError
from contract.verdict import Lang
from keys.certs import utc_now
from keys.errors import KeysError
from keys.ids import decode_public_key
from keys.status import StatusListError, open_status_list
from keys.trustlist import TrustList
from keys.verifier import (
    LOG_NOT_CHECKED,
    LogCheck,
    LogStatus,
    apply_status_list,
    check_log_proof,
    unit_proof_path,
    verify_label,
)

app = typer.Typer(add_completion=False)
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def read_qr(path: Path) -> str:
    """The text of the one QR code in an image; several or none is an error, not a guess."""
    try:
        with Image.open(path) as image:
            codes = zxingcpp.read_barcodes(image, formats=_QR_ONLY)
    except (OSError, UnidentifiedImageError) as exc:
        raise KeysError(
            bilingual(f"không đọc được ảnh {path}", f"cannot read image {path}: {exc}")
        ) from None
    if len(codes) != 1:
        raise KeysError(
            bilingual(
                f"ảnh {path} phải có đúng một mã QR, tìm thấy {len(codes)}",
                f"expected one QR code in {path}, found {len(codes)}",
            )
        )
    return str(codes[0].text)


def load_root_key(value: str) -> Ed25519PublicKey:
    """The pinned root key, given as base64url text or as a file holding it."""
    text = Path(value).read_text().strip() if Path(value).is_file() else value
    try:
        return decode_public_key(text)
    except ValueError as exc:
        raise KeysError(
            bilingual(
                "--root-key không phải khóa công khai Ed25519",
                f"--root-key: {exc}",
            )
        ) from None


@app.command()
def verify(
    code: Annotated[str, typer.Argument(help="The QR text, or an image file of the label")],
    trust_list: Annotated[Path, typer.Option(help="The signed trust list (JSON)")],
    root_key: Annotated[
        str, typer.Option(envvar="OCOP_ROOT_KEY", help="Root public key, or a file holding it")
    ],
    at: Annotated[
        datetime | None, typer.Option(help="Verify as of this time (default now)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON")] = False,
    log_proof: Annotated[
        Path | None, typer.Option(help="The unit's tlog-proof (GET /log/proof/unit/...)")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="A cached cosigned checkpoint of the log")
    ] = None,
    status: Annotated[
        Path | None, typer.Option(help="A signed status list (/.well-known/ocop-status-list)")
    ] = None,
    online: Annotated[
        str | None, typer.Option(help="The API's base URL: fetch the proof and status list")
    ] = None,
    max_checkpoint_age: Annotated[
        float, typer.Option(help="Hours after which the witnessed checkpoint is warned of")
    ] = 24.0,
) -> None:
    """Verify a label against the published trust list, without any network (unless
    --online)."""
    text = read_qr(Path(code)) if Path(code).is_file() else code
    try:
        data = trust_list.read_bytes()
    except OSError as exc:
        raise KeysError(
            bilingual("không đọc được danh sách tin cậy", f"cannot read trust list: {exc}")
        ) from None
    trust = TrustList.load(data, root_public_key=load_root_key(root_key))
    if at is not None and at.tzinfo is None:
        raise KeysError(
            bilingual(
                "--at cần độ lệch so với UTC (ví dụ 2025-01-31T10:00:00+07:00)",
                "--at needs a UTC offset (e.g. 2025-01-31T10:00:00+07:00)",
            )
        )
    now = at or utc_now()
    verification = verify_label(text, trust=trust, now=now)
    label = verification.label
    proof_text, status_text = _read(log_proof), _read(status)
    if online is not None and label is not None:
        base = online.rstrip("/")
        proof_text = proof_text or _fetch(base + unit_proof_path(label))
        status_text = status_text or _fetch(f"{base}/.well-known/ocop-status-list")
    result = verification.as_json()
    if status_text is not None:
        try:
            held = open_status_list(status_text, trust.log_verifiers(now))
        except StatusListError as exc:
            raise KeysError(
                bilingual("danh sách trạng thái không dùng được", f"status list: {exc}")
            ) from None
        verification, said = apply_status_list(verification, held, now=now)
        result = verification.as_json() | {"status_list": said.as_json()}
    log_check: LogCheck = LOG_NOT_CHECKED
    if proof_text is not None:
        log_check = check_log_proof(
            proof_text,
            trust=trust,
            label=label,
            checkpoint=_read(checkpoint),
            now=now,
            max_age=timedelta(hours=max_checkpoint_age),
        )
    result["log"] = log_check.as_json()
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else _render(result))
    failed = log_check.status is LogStatus.FAILED
    raise typer.Exit(0 if result["reason"] == "genuine" and not failed else 1)


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise KeysError(bilingual(f"không đọc được {path}", f"cannot read {path}: {exc}")) from None


def _fetch(url: str) -> str | None:
    """The body, or None for a 404 (nothing to fetch yet); other failures are errors."""
    try:
        response = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        raise KeysError(bilingual(f"không tải được {url}", f"cannot fetch {url}: {exc}")) from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise KeysError(
            bilingual(
                f"{url} trả lời mã {response.status_code}",
                f"{url} answered {response.status_code}",
            )
        )
    return response.text


def _render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['reason'].upper()} ({result['category']})",
        *(f"  {lang}: {result['sentence'][lang]}" for lang in Lang),
        f"  detail: {result['detail']}",
    ]
    label = result.get("label")
    if label:
        lines.append(
            f"  label: {label['product_key']} lot {label['lot']} serial {label['serial']}, "
            f"packed {label['packed_on']}, printed {label['printed_stars']}★, "
            f"key {label['key_id']}"
        )
    producer, key = result.get("producer"), result.get("key")
    if producer and key:
        lines.append(
            f"  producer: {producer['producer_name']} ({producer['producer_id']}), "
            f"{producer['address']}; key {key['status']}"
        )
    state = result.get("certification")
    if state and state["certificate"]:
        award = state["certificate"]
        lines.append(
            f"  certification: {award['certificate_no']} ({award['decision_no']}), "
            f"{award['product_name']}, {award['stars']}★ {award['evaluation_level']}, "
            f"score {award['score']}, valid {award['valid_from'][:10]} to "
            f"{award['valid_until'][:10]}: {state['status']} now, "
            f"{result['certification_when_packed']} when packed"
        )
    fresh = result["trust_list"]
    lines.append(
        f"  trust list: version {fresh['version']}, issued {fresh['issued_at'][:16]}Z, "
        f"{fresh['age_seconds'] // 3600} h old"
    )
    lines.extend(f"  WARNING: {warning}" for lang in Lang for warning in result["warnings"][lang])
    said = result.get("status_list")
    if said:
        lines.append(
            f"  status list: signed by {said['signed_by']}, issued {said['issued_at'][:16]}Z, "
            f"{said['age_seconds'] // 3600} h old: {said['statement']}"
        )
        if said["stale"]:
            lines.append("  WARNING: the status list is stale: the verdict rests on the trust list")
    logged = result.get("log")
    if logged:
        mark = {"recorded": "log", "failed": "LOG FAILED", "not_checked": "log"}[logged["status"]]
        lines.append(f"  {mark}: {logged['sentence']}")
        lines.extend(f"  WARNING: {warning}" for warning in logged["warnings"])
    return "\n".join(lines)


def main() -> None:
    try:
        app()
    except (KeysError, ContractError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
