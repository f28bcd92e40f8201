"""Renderers of the label artwork: an A4 PDF sheet, one SVG or one PNG per label.

The code is drawn as vectors in the PDF and the SVG: one filled path of rectangles, one per
run of dark modules in a row, in module units under a scaling transform. A single fill means
no hairline seams between modules in any viewer, and the printer gets exact edges at its
own resolution. Writing that path is most of a label's cost, so it is built 8 modules at a
time from a cache: a row's 8-module piece at a given place always gives the same
rectangles, and after the first few hundred labels nearly every piece has been seen.

Everything but the code and the serial is drawn once per run (a PDF form, an SVG text
template, a PNG background) and reused for every label.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from producers.labels import INK, MM_PER_PT, STAR_COLOUR, Artwork, Fonts, SheetLayout, Text

# Binary page streams: ASCII85 armour only makes them bigger, and without reportlab's optional C
# accelerator it was most of the time a sheet took.
rl_config.useA85 = 0

_DARK_RUNS = re.compile("1+")
_PIECE = 8

Run = Callable[[int, int, int], str]
"""(column, row, length) of a run of dark modules -> its path operators."""


def pdf_run(column: int, row: int, length: int) -> str:
    return f"{column} {row} {length} 1 re\n"


def svg_run(column: int, row: int, length: int) -> str:
    return f"M{column} {row}h{length}v1h-{length}z"


class RunPath:
    """A QR code's modules as path operators, for a code of `size` modules a side."""

    def __init__(self, size: int, run: Run) -> None:
        self._size = size
        self._run = run
        self._pieces: list[tuple[dict[str, str], int, int, int, int]] = [
            ({}, row * size + column, row, column, min(_PIECE, size - column))
            for row in range(size)
            for column in range(0, size, _PIECE)
        ]

    def __call__(self, modules: str) -> str:
        """`modules`: row by row, "1" for dark (producers.qr.BatchQr.modules)."""
        parts = []
        for seen, start, row, column, width in self._pieces:
            piece = modules[start : start + width]
            path = seen.get(piece)
            if path is None:
                path = seen[piece] = "".join(
                    self._run(column + run.start(), row, run.end() - run.start())
                    for run in _DARK_RUNS.finditer(piece)
                )
            parts.append(path)
        return "".join(parts)


class PdfSheet:
    """Labels on A4 sheets, in order; the path of each code comes from `RunPath(size, pdf_run)`."""

    _FORM = "ocop_label"
    CREATOR = "OCOP trace packing station"

    def __init__(
        self, path: Path, artwork: Artwork, layout: SheetLayout, fonts: Fonts, *, title: str
    ) -> None:
        self._artwork, self._layout, self._fonts = artwork, layout, fonts
        self._canvas = Canvas(str(path), pagesize=A4, pageCompression=1, invariant=1)
        self._canvas.setTitle(title)
        self._canvas.setCreator(self.CREATOR)
        self._count = 0
        self._define_form()
        scale = artwork.module * mm
        self._code = (
            f"q 0 g {scale:.5f} 0 0 {-scale:.5f} {artwork.qr_x * mm:.3f} "
            f"{(artwork.height - artwork.qr_y) * mm:.3f} cm\n"
        )
        serial = artwork.serial
        self._serial_at = (serial.x * mm, (artwork.height - serial.y) * mm)
        self._serial_font = (fonts.name(serial.bold), serial.size)

    def add(self, code_path: str, serial: str) -> None:
        layout, canvas = self._layout, self._canvas
        if self._count and self._count % layout.per_sheet == 0:
            canvas.showPage()
        left, top = layout.origin(self._count)
        canvas.saveState()
        canvas.translate(left * mm, A4[1] - (top + layout.label_height) * mm)
        canvas.doForm(self._FORM)
        canvas.addLiteral(f"{self._code}{code_path}f Q")
        canvas.setFont(*self._serial_font)
        canvas.drawString(*self._serial_at, self._artwork.serial.text + serial)
        canvas.restoreState()
        self._count += 1

    def close(self) -> int:
        """Writes the file; returns the number of pages."""
        pages = int(self._canvas.getPageNumber())
        self._canvas.save()
        return pages

    def _define_form(self) -> None:
        art, canvas = self._artwork, self._canvas
        canvas.beginForm(self._FORM, 0, 0, art.width * mm, art.height * mm)
        canvas.setFillColor(STAR_COLOUR)
        for star in art.stars:
            outline = canvas.beginPath()
            (x0, y0), *rest = star
            outline.moveTo(x0 * mm, (art.height - y0) * mm)
            for x, y in rest:
                outline.lineTo(x * mm, (art.height - y) * mm)
            outline.close()
            canvas.drawPath(outline, stroke=0, fill=1)
        for text in art.texts:
            canvas.setFillColor(text.colour)
            canvas.setFont(self._fonts.name(text.bold), text.size)
            canvas.drawString(text.x * mm, (art.height - text.y) * mm, text.text)
        canvas.endForm()


class SvgLabel:
    """One label as a standalone SVG, its size in mm; the code's path from `svg_run`."""

    def __init__(self, artwork: Artwork) -> None:
        art = artwork
        stars = "".join(
            f'<path fill="{STAR_COLOUR}" d="M{"L".join(f"{x:.3f} {y:.3f}" for x, y in star)}Z"/>'
            for star in art.stars
        )
        texts = "".join(_svg_text(text, text.text) for text in art.texts)
        self._head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{art.width}mm" '
            f'height="{art.height}mm" viewBox="0 0 {art.width} {art.height}">'
            f'<rect width="{art.width}" height="{art.height}" fill="#fff"/>{stars}'
            f'<g font-family="DejaVu Sans, sans-serif">{texts}'
            f'<path fill="{INK}" shape-rendering="crispEdges" transform="translate('
            f'{art.qr_x:.4f} {art.qr_y:.4f}) scale({art.module:.5f})" d="'
        )
        self._serial = art.serial

    def __call__(self, code_path: str, serial: str) -> str:
        text = _svg_text(self._serial, self._serial.text + serial)
        return f'{self._head}{code_path}"/>{text}</g></svg>\n'


def _svg_text(text: Text, content: str) -> str:
    weight = ' font-weight="bold"' if text.bold else ""
    return (
        f'<text x="{text.x:.3f}" y="{text.y:.3f}" font-size="{text.size * MM_PER_PT:.3f}"'
        f'{weight} fill="{text.colour}">{escape(content)}</text>'
    )


class PngLabel:
    """One label as a greyscale PNG, each module a whole number of pixels so edges stay sharp.

    203 dpi and grey: what the thermal label printers of packing lines print (they are
    monochrome), and a PNG a fifth the size of a colour one at 300 dpi, quicker to write.
    """

    def __init__(self, artwork: Artwork, fonts: Fonts, dpi: int = 203) -> None:
        self._px = px = dpi / 25.4
        art = artwork
        background = Image.new("L", (round(art.width * px), round(art.height * px)), "white")
        draw = ImageDraw.Draw(background)
        for star in art.stars:
            draw.polygon([(x * px, y * px) for x, y in star], fill=STAR_COLOUR)
        self._fonts = fonts
        for text in art.texts:
            self._draw(draw, text, text.text)
        self._background = background
        self._module = max(1, round(art.module * px))
        self._at = (round(art.qr_x * px), round(art.qr_y * px))
        self._serial = art.serial

    def __call__(self, modules: str, size: int, serial: str) -> Image.Image:
        code = Image.frombytes("L", (size, size), modules.encode("ascii").translate(_GREY))
        code = code.resize((size * self._module, size * self._module), Image.Resampling.NEAREST)
        image = self._background.copy()
        image.paste(code, self._at)
        self._draw(ImageDraw.Draw(image), self._serial, self._serial.text + serial)
        return image

    def _draw(self, draw: ImageDraw.ImageDraw, text: Text, content: str) -> None:
        path = self._fonts.bold if text.bold else self._fonts.regular
        at = (text.x * self._px, text.y * self._px)
        font = _png_font(path, text.size, self._px)
        draw.text(at, content, fill=text.colour, font=font, anchor="ls")


_GREY = bytes.maketrans(b"01", b"\xff\x00")


@cache
def _png_font(path: Path, size_pt: float, px_per_mm: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), round(size_pt * MM_PER_PT * px_per_mm))
