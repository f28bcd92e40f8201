"""`ocop-verify`: check a label offline, from its QR text or a photo/scan of it.

    ocop-verify 'https://ocop.vn/01/...' --trust-list trust.json --root-key root.pub
    ocop-verify label.png --trust-list trust.json --root-key <base64url public key>

Exit status: 0 genuine, 1 any other verdict, 2 when no verdict could be reached (no
readable trust list, no QR code in the image).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image, UnidentifiedImageError

from contract.errors import ContractError
from contract.verdict import Lang
from keys.errors import KeysError
from keys.ids import decode_public_key
from keys.trustlist import TrustList
from keys.verifier import verify_label

app = typer.Typer(add_completion=False)
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def read_qr(path: Path) -> str:
    """The text of the one QR code in an image; several or none is an error, not a guess."""
    try:
        with Image.open(path) as image:
            codes = zxingcpp.read_barcodes(image, formats=_QR_ONLY)
    except (OSError, UnidentifiedImageError) as exc:
        raise KeysError(f"cannot read image {path}: {exc}") from None
    if len(codes) != 1:
        raise KeysError(f"expected one QR code in {path}, found {len(codes)}")
    return str(codes[0].text)


def load_root_key(value: str) -> Ed25519PublicKey:
    """The pinned root key, given as base64url text or as a file holding it."""
    text = Path(value).read_text().strip() if Path(value).is_file() else value
    try:
        return decode_public_key(text)
    except ValueError as exc:
        raise KeysError(f"--root-key: {exc}") from None


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
) -> None:
    """Verify a label against the published trust list, without any network."""
    text = read_qr(Path(code)) if Path(code).is_file() else code
    try:
        data = trust_list.read_bytes()
    except OSError as exc:
        raise KeysError(f"cannot read trust list: {exc}") from None
    trust = TrustList.load(data, root_public_key=load_root_key(root_key))
    if at is not None and at.tzinfo is None:
        raise KeysError("--at needs a UTC offset (e.g. 2025-01-31T10:00:00+07:00)")
    result = verify_label(text, trust=trust, now=at).as_json()
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else _render(result))
    raise typer.Exit(0 if result["reason"] == "genuine" else 1)


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
    return "\n".join(lines)


def main() -> None:
    try:
        app()
    except (KeysError, ContractError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
