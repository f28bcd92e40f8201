"""What a unit label shows and where: the artwork shared by the PDF sheet, SVG and PNG.

One composition, three renderers (producers.render): the QR code with its quiet zone on the
left, on the right the OCOP star mark, the product, its producer and the batch's dates in
Vietnamese, as Circular 02/2024 lists them for consumers (name, producer, production time,
expiry, serial). Everything but the code and the serial is the same on every label of a
print run, so it is laid out once per run.

The star mark follows the signed payload exactly: as many stars as the label's signature
covers, and no mark at all (nor the words "Sản phẩm OCOP") on a label that makes no star
claim, because only a product certified 3★ or more in force may show them.

The sheet is Avery L7160 (J8160 for inkjet printers), the common 21-label A4 sheet: 3 × 7
labels of 63.5 × 38.1 mm, big enough for a version-10 code at 0.55 mm per module, well above
the 0.33 mm that phone cameras and shop scanners read reliably.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from contract.bilingual import bilingual
from producers.errors import LabelError

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
"""Where Debian's fonts-dejavu-core puts DejaVu Sans, which has every Vietnamese glyph."""
REGULAR_FONT, BOLD_FONT = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
QUIET_ZONE = 4
"""Modules of white around the code, as ISO/IEC 18004 requires for version 1 and up."""
MM_PER_PT = 25.4 / 72

STAR_COLOUR = "#E0A100"
MARK_COLOUR = "#B00020"
INK = "#000000"


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path

    @property
    def names(self) -> tuple[str, str]:
        """The fonts' names in reportlab, registered on first use in this process."""
        return _registered(self.regular), _registered(self.bold)

    def name(self, bold: bool) -> str:
        return self.names[1 if bold else 0]


def find_fonts(folders: tuple[Path, ...] = FONT_DIRS) -> Fonts:
    """DejaVu Sans, or a clear error: labels in a font without Vietnamese glyphs print boxes."""
    for folder in folders:
        regular, bold = folder / REGULAR_FONT, folder / BOLD_FONT
        if regular.is_file():
            return Fonts(regular, bold if bold.is_file() else regular)
    searched = ", ".join(str(folder) for folder in folders)
    raise LabelError(
        bilingual(
            f"không có {REGULAR_FONT} trong {searched}: nhãn cần phông chữ có đủ dấu tiếng Việt; "
            "cài gói fonts-dejavu-core của Debian (apt-get install fonts-dejavu-core)",
            f"no {REGULAR_FONT} in {searched}: labels need a font with Vietnamese glyphs; "
            "install Debian's fonts-dejavu-core (apt-get install fonts-dejavu-core)",
        )
    )


@cache
def _registered(path: Path) -> str:
    name = path.stem
    pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


@dataclass(frozen=True)
class SheetLayout:
    """An A4 sheet of labels; millimetres from the sheet's top-left corner."""

    name: str
    columns: int
    rows: int
    label_width: float
    label_height: float
    left: float
    top: float
    pitch_x: float
    pitch_y: float

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def origin(self, index: int) -> tuple[float, float]:
        """Top-left corner of the label at `index` on its sheet, filled row by row."""
        row, column = divmod(index % self.per_sheet, self.columns)
        return self.left + column * self.pitch_x, self.top + row * self.pitch_y


AVERY_L7160 = SheetLayout(
    name="Avery L7160 (A4, 3 × 7 labels of 63.5 × 38.1 mm)",
    columns=3,
    rows=7,
    label_width=63.5,
    label_height=38.1,
    left=7.2,
    top=15.15,
    pitch_x=66.0,
    pitch_y=38.1,
)


@dataclass(frozen=True)
class LabelContent:
    """What the labels of a print run say besides the code and the serial."""

    product_name: str
    producer_name: str
    lot: str
    production_date: date
    expiry_date: date
    stars: int


@dataclass(frozen=True)
class Text:
    """A line of text; `y` is its baseline, in mm from the label's top."""

    x: float
    y: float
    size: float
    bold: bool
    colour: str
    text: str


@dataclass(frozen=True)
class Artwork:
    """One print run's label, placed in mm from the label's top-left corner."""

    width: float
    height: float
    qr_x: float
    """Left edge of the code's first module (inside the quiet zone)."""
    qr_y: float
    module: float
    """Side of one module, mm."""
    stars: tuple[tuple[tuple[float, float], ...], ...]
    texts: tuple[Text, ...]
    serial: Text
    """Where the serial goes; its text is the prefix the serial follows."""

    @classmethod
    def compose(
        cls, content: LabelContent, layout: SheetLayout, modules: int, fonts: Fonts
    ) -> Artwork:
        """Lays out a label for a code of `modules` modules a side."""
        width, height, pad = layout.label_width, layout.label_height, 1.2
        side = height - 2 * pad
        module = side / (modules + 2 * QUIET_ZONE)
        x = pad + side + 0.6
        column = width - pad - x
        texts: list[Text] = []
        stars: list[tuple[tuple[float, float], ...]] = []
        y = pad + 1.0
        if content.stars:
            radius = 1.7
            for i in range(content.stars):
                stars.append(_star(x + radius + i * (2 * radius + 0.5), y + radius, radius))
            y += 2 * radius + 2.6
            texts.append(Text(x, y, 6.5, True, MARK_COLOUR, "Sản phẩm OCOP"))
            y += 1.2
        flow = _Flow(texts, fonts, x, column, y)
        flow.wrapped(content.product_name, 7.5, bold=True, lines=2)
        flow.wrapped(content.producer_name, 5.5, bold=False, lines=2)
        flow.gap(0.6)
        flow.line(f"Lô SX: {content.lot}", 6)
        flow.line(f"NSX: {vietnamese_date(content.production_date)}", 6)
        flow.line(f"HSD: {vietnamese_date(content.expiry_date)}", 6, bold=True)
        serial = Text(x, height - pad - 0.6, 5.5, False, INK, "Seri: ")
        return cls(
            width=width,
            height=height,
            qr_x=pad + QUIET_ZONE * module,
            qr_y=pad + QUIET_ZONE * module,
            module=module,
            stars=tuple(stars),
            texts=tuple(texts),
            serial=serial,
        )


def vietnamese_date(day: date) -> str:
    return f"{day:%d/%m/%Y}"


class _Flow:
    """Text lines flowing down the right-hand column, wrapped to its width."""

    def __init__(self, texts: list[Text], fonts: Fonts, x: float, width: float, y: float) -> None:
        self.texts, self.fonts, self.x, self.width, self.y = texts, fonts, x, width, y

    def line(self, text: str, size: float, *, bold: bool = False) -> None:
        self.y += size * MM_PER_PT * 1.2
        self.texts.append(Text(self.x, self.y, size, bold, INK, text))

    def gap(self, mm: float) -> None:
        self.y += mm

    def wrapped(self, text: str, size: float, *, bold: bool, lines: int) -> None:
        name = self.fonts.name(bold)
        parts = simpleSplit(text, name, size, self.width / MM_PER_PT)
        if len(parts) > lines:
            parts = [*parts[: lines - 1], _ellipsis(" ".join(parts[lines - 1 :]), name, size, self)]
        for part in parts:
            self.line(part, size, bold=bold)


def _ellipsis(text: str, font: str, size: float, flow: _Flow) -> str:
    limit = flow.width / MM_PER_PT
    while text and pdfmetrics.stringWidth(text + "…", font, size) > limit:
        text = text[:-1]
    return text.rstrip() + "…"


def _star(cx: float, cy: float, radius: float) -> tuple[tuple[float, float], ...]:
    """A five-pointed star, point up; inner radius in the regular star's proportion."""
    inner = radius * math.sin(math.radians(18)) / math.sin(math.radians(54))
    return tuple(
        (
            cx + (radius if i % 2 == 0 else inner) * math.sin(math.radians(36 * i)),
            cy - (radius if i % 2 == 0 else inner) * math.cos(math.radians(36 * i)),
        )
        for i in range(10)
    )
