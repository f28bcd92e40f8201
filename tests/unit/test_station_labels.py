"""Label codes and artwork: the fast QR path is segno's output bit for bit, and every
rendered label scans back to its signed URL."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date

import pytest
import segno
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from contract.identifiers import SERIAL_ALPHABET
from contract.label import LabelBatch
from contract.verdict import Reason
from keys.signing import LabelSigner
from keys.verifier import verify_label
from producers.errors import LabelError
from producers.labels import AVERY_L7160, Artwork, LabelContent, find_fonts
from producers.printing import Format, render_labels
from producers.qr import BatchQr
from producers.render import PngLabel, RunPath, pdf_run, svg_run
from tests.world import HOST, LOT, NOW, OTHER_PRODUCT, PACKED_ON, PRODUCT

CODE = re.compile(rb" cm\n((?:\d+ \d+ \d+ 1 re\n)+)f Q")
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
CONTENT = LabelContent(
    product_name="Mắm cáy Hồng Tiến",
    producer_name="HTX Dịch vụ Nông nghiệp Hồng Tiến",
    lot=LOT,
    production_date=date(2025, 3, 1),
    expiry_date=date(2026, 3, 1),
    stars=4,
)


@pytest.fixture(scope="module")
def signer(world):
    key = world.producer
    return LabelSigner(key, LabelBatch(HOST, PRODUCT, LOT, PACKED_ON, 4, key.key_id))


@pytest.fixture(scope="module")
def template(signer):
    return BatchQr.for_batch(signer.batch)


def test_a_realistic_label_is_version_10_at_level_m(template, signer):
    assert (template.version, template.size) == (10, 57)
    code = segno.make(signer.sign().url, error="m", boost_error=False, micro=False)
    assert code.version == template.version  # what segno itself picks for every label
    assert code.error == "M"


@settings(max_examples=40, deadline=None)
@given(
    serial=st.text(alphabet=SERIAL_ALPHABET, min_size=12, max_size=12),
    signature=st.binary(min_size=64, max_size=64),
)
def test_the_fast_path_is_segnos_own_encoding(template, signer, serial, signature):
    url = signer.batch.url(serial, signature)
    assert template.modules(url) == template.segno_modules(url)


def test_a_url_of_another_run_is_refused(template, world):
    other = world.label(product=OTHER_PRODUCT)
    with pytest.raises(ValueError, match="not a label URL of this print run"):
        template.modules(other.url)


def test_a_template_whose_probe_disagrees_with_segno_refuses_to_work(signer, monkeypatch):
    monkeypatch.setattr(BatchQr, "segno_modules", lambda self, url: "0" * self.size**2)
    with pytest.raises(RuntimeError, match="self-check failed"):
        BatchQr.for_batch(signer.batch)


def test_run_paths_draw_exactly_the_dark_modules(template, signer):
    modules = template.modules(signer.sign().url)
    path = RunPath(template.size, svg_run)(modules)
    drawn: set[tuple[int, int]] = set()
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path):
        drawn.update((int(y), int(x) + i) for i in range(int(width)))
    dark = {divmod(i, template.size) for i, bit in enumerate(modules) if bit == "1"}
    assert drawn == dark


def decode(image: Image.Image) -> str:
    (code,) = zxingcpp.read_barcodes(image, formats=QR_ONLY)
    return str(code.text)


def test_a_png_label_scans_back_to_a_genuine_code(template, signer, world):
    label = signer.sign()
    art = Artwork.compose(CONTENT, AVERY_L7160, template.size, find_fonts())
    image = PngLabel(art, find_fonts())(template.modules(label.url), template.size, label.serial)
    png = io.BytesIO()
    image.save(png, format="PNG")
    assert decode(Image.open(png)) == label.url
    assert verify_label(label.url, trust=world.trust(), now=NOW).reason is Reason.GENUINE


def test_a_print_run_in_every_format(tmp_path, signer):
    labels = [signer.sign() for _ in range(25)]
    rendered = render_labels(
        labels, CONTENT, tmp_path, formats=list(Format), workers=1, progress=lambda n: None
    )
    assert (rendered.labels, rendered.pages, rendered.files) == (25, 2, 50)  # 21 per sheet
    assert rendered.qr_version == "10-M"
    pdf = (tmp_path / "labels.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 2
    for label in labels[:3]:
        svg = (tmp_path / "svg" / f"{label.serial}.svg").read_text()
        assert svg.count(f'fill="{"#E0A100"}"') == 4  # four stars, as signed
        for text in (
            "Sản phẩm OCOP",
            "Mắm cáy Hồng",  # the name takes two lines
            "HSD: 01/03/2026",
            f"Seri: {label.serial}",
        ):
            assert text in svg
        assert decode(Image.open(tmp_path / "png" / f"{label.serial}.png")) == label.url


def test_no_star_claim_no_ocop_mark(tmp_path, world):
    key = world.producer
    signer = LabelSigner(key, LabelBatch(HOST, PRODUCT, LOT, PACKED_ON, 0, key.key_id))
    label = signer.sign()
    content = LabelContent(**{**CONTENT.__dict__, "stars": 0})
    render_labels([label], content, tmp_path, formats=[Format.SVG])
    svg = (tmp_path / "svg" / f"{label.serial}.svg").read_text()
    assert "Sản phẩm OCOP" not in svg
    assert "#E0A100" not in svg


def test_long_names_are_cut_to_two_lines(template):
    long = LabelContent(**{**CONTENT.__dict__, "product_name": "Bánh cáy làng Nguyễn " * 6})
    art = Artwork.compose(long, AVERY_L7160, template.size, find_fonts())
    names = [t.text for t in art.texts if t.bold and t.size == 7.5]
    assert len(names) == 2
    assert names[1].endswith("…")
    assert art.serial.y < AVERY_L7160.label_height
    assert max(t.y for t in art.texts) < art.serial.y


def test_every_core_gives_the_same_sheets(tmp_path, signer, template):
    labels = [signer.sign() for _ in range(500)]  # three parts of up to ten sheets
    paths = RunPath(template.size, pdf_run)
    expected = [paths(template.modules(label.url)).encode() for label in labels]

    def codes(workers: int) -> list[list[bytes]]:
        """The code paths on each page, in order, as drawn."""
        rendered = render_labels(
            labels, CONTENT, tmp_path / str(workers), formats=[Format.PDF], workers=workers
        )
        assert rendered.pdf is not None
        reader = PdfReader(rendered.pdf)
        assert reader.metadata is not None
        assert reader.metadata.title == f"OCOP {signer.batch.batch_id}"
        pages = [page.get_contents() for page in reader.pages]
        return [CODE.findall(page.get_data()) for page in pages if page is not None]

    one, two = codes(1), codes(2)
    assert one == two
    assert [len(page) for page in one] == [21] * 23 + [17]
    assert [code for page in one for code in page] == expected
    assert not (tmp_path / "2" / ".parts").exists()


def test_no_font_no_labels(tmp_path):
    with pytest.raises(
        LabelError,
        match=r"cài gói fonts-dejavu-core của Debian.* / .*install Debian's fonts-dejavu-core",
    ):
        find_fonts((tmp_path,))


def test_labels_of_two_runs_are_not_mixed(signer, world, tmp_path):
    with pytest.raises(LabelError, match="share their batch"):
        render_labels([signer.sign(), world.label(stars=0)], CONTENT, tmp_path)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils' pdftoppm")
def test_the_codes_on_a_pdf_sheet_scan(tmp_path, signer):
    labels = [signer.sign() for _ in range(21)]
    rendered = render_labels(labels, CONTENT, tmp_path, formats=[Format.PDF], workers=1)
    subprocess.run(
        ["pdftoppm", "-r", "100", "-png", str(rendered.pdf), str(tmp_path / "sheet")], check=True
    )
    with Image.open(tmp_path / "sheet-1.png") as page:
        codes = zxingcpp.read_barcodes(page, formats=QR_ONLY)
    assert sorted(code.text for code in codes) == sorted(label.url for label in labels)
