"""The printed code: small enough at error correction M, and readable by an independent decoder."""

from __future__ import annotations

import io

import segno
import zxingcpp
from PIL import Image

from contract.verdict import Reason
from keys.verifier import verify_label
from keys.verify_cli import read_qr
from tests.world import NOW, OTHER_PRODUCT


def test_a_realistic_label_fits_version_10_at_level_m(world):
    label = world.label()  # 14-digit GTIN, 10-character lot, 12-character serial
    qr = segno.make(label.url, error="m", boost_error=False, micro=False)
    assert len(label.url) == 184
    assert qr.error == "M"
    assert isinstance(qr.version, int)
    assert qr.version <= 10
    fallback = segno.make(
        world.label(stars=0, product=OTHER_PRODUCT).url, error="m", boost_error=False
    )
    assert isinstance(fallback.version, int)
    assert fallback.version <= 10


def test_zxing_reads_segnos_image_and_the_text_verifies(world):
    trust = world.trust()
    label = world.label()
    png = io.BytesIO()
    segno.make(label.url, error="m", boost_error=False).save(png, kind="png", scale=4, border=4)
    png.seek(0)
    (code,) = zxingcpp.read_barcodes(Image.open(png))
    assert code.format == zxingcpp.BarcodeFormat.QRCode
    assert code.text == label.url
    assert verify_label(code.text, trust=trust, now=NOW).reason is Reason.GENUINE


def test_the_verify_cli_reads_a_label_photo_file(world, tmp_path):
    label = world.label()
    path = tmp_path / "label.png"
    segno.make(label.url, error="m", boost_error=False).save(str(path), scale=3)
    assert read_qr(path) == label.url
