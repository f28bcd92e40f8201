"""Rendering a print run on every core.

The run is cut into parts of whole sheets. In one process the parts go, in order, onto one
PDF; with several, each worker renders its parts completely (codes, the PDF part with its
own page compression, the SVG and PNG files) and the caller only joins the PDF parts, in
order, with pypdf. Joining copies the compressed page streams as they are, so nothing that
costs per label is left to a single process: compressing the vector codes is most of a
sheet's cost and it is spread over the workers with the rest. Each part embeds its own
subset of the font (about 25 kB a part of 10 sheets).

Workers start with the "forkserver" method, not "fork": the station may run a Kafka sender
thread, and forking a process with threads can leave a child holding a lock no thread will
ever release.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pypdf import PdfWriter

from contract.bilingual import bilingual
from contract.label import LabelBatch, SignedLabel
from producers.errors import LabelError
from producers.labels import AVERY_L7160, Artwork, Fonts, LabelContent, SheetLayout, find_fonts
from producers.qr import BatchQr
from producers.render import PdfSheet, PngLabel, RunPath, SvgLabel, pdf_run, svg_run

SHEETS_PER_PART = 10
PARALLEL_FROM = 2_000
"""Labels from which a run uses every core by default: starting the workers takes a second
or two, which a run of a few sheets would spend waiting."""
PDF_NAME = "labels.pdf"


class Format(StrEnum):
    PDF = "pdf"
    SVG = "svg"
    PNG = "png"


@dataclass(frozen=True)
class PrintJob:
    """Everything a worker needs to render labels of one run (it pickles)."""

    batch: LabelBatch
    content: LabelContent
    folder: Path
    formats: frozenset[Format]
    layout: SheetLayout
    fonts: Fonts

    @property
    def title(self) -> str:
        return f"OCOP {self.batch.batch_id}"


@dataclass(frozen=True)
class Rendered:
    pdf: Path | None
    pages: int
    files: int
    labels: int
    qr_version: str
    seconds: float


Progress = Callable[[int], None]
Part = list[tuple[str, str]]
"""(serial, URL) of the labels of whole sheets."""


def render_labels(
    labels: Sequence[SignedLabel],
    content: LabelContent,
    folder: Path,
    *,
    formats: Iterable[Format] = (Format.PDF, Format.SVG),
    workers: int | None = None,
    layout: SheetLayout = AVERY_L7160,
    progress: Progress | None = None,
) -> Rendered:
    """Renders a print run's labels into `folder`: labels.pdf, svg/<serial>.svg, png/....

    `workers`: processes to use; by default every core from PARALLEL_FROM labels on, and
    this process alone below that.
    """
    started = time.perf_counter()
    if not labels:
        raise LabelError("no labels to render")
    batch = labels[0].batch
    if any(label.batch != batch for label in labels):
        raise LabelError("labels of one print run share their batch, date, stars and key")
    _folder(folder)
    job = PrintJob(batch, content, folder, frozenset(formats), layout, find_fonts())
    renderer = _Renderer(job)
    size = layout.per_sheet * SHEETS_PER_PART
    parts = [
        [(label.serial, label.url) for label in labels[i : i + size]]
        for i in range(0, len(labels), size)
    ]
    if workers is None:
        workers = (os.cpu_count() or 1) if len(labels) >= PARALLEL_FROM else 1
    workers = min(workers, len(parts))
    pdf = folder / PDF_NAME if Format.PDF in job.formats else None
    if workers == 1:
        sheet = PdfSheet(pdf, renderer.artwork, layout, job.fonts, title=job.title) if pdf else None
        for part in parts:
            renderer.render(part, sheet)
            _advance(progress, part)
        pages = sheet.close() if sheet else 0
    else:
        pages = _render_in_parallel(job, parts, workers, pdf, progress)
    return Rendered(
        pdf=pdf,
        pages=pages,
        files=len(job.formats - {Format.PDF}) * len(labels),
        labels=len(labels),
        qr_version=f"{renderer.qr.version}-M",
        seconds=time.perf_counter() - started,
    )


def _render_in_parallel(
    job: PrintJob, parts: list[Part], workers: int, pdf: Path | None, progress: Progress | None
) -> int:
    scratch = job.folder / ".parts"
    numbered = [
        (scratch / f"part-{i:05d}.pdf" if pdf else None, part) for i, part in enumerate(parts)
    ]
    if pdf:
        _folder(scratch)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    try:
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(job,)
        ) as pool:
            for (_, part), _done in zip(numbered, pool.map(_render_part, numbered), strict=True):
                _advance(progress, part)
        if pdf is None:
            return 0
        joined = PdfWriter()
        for path, _ in numbered:
            joined.append(str(path))
        joined.add_metadata({"/Title": job.title, "/Creator": PdfSheet.CREATOR})
        with pdf.open("wb") as file:
            joined.write(file)
        return len(joined.pages)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _advance(progress: Progress | None, part: Part) -> None:
    if progress is not None:
        progress(len(part))


class _Renderer:
    """One process's renderers for a run: its QR template and per-format writers."""

    def __init__(self, job: PrintJob) -> None:
        self.job = job
        self.qr = BatchQr.for_batch(job.batch)
        self.artwork = Artwork.compose(job.content, job.layout, self.qr.size, job.fonts)
        self._pdf = RunPath(self.qr.size, pdf_run) if Format.PDF in job.formats else None
        self._svg = None
        self._png = None
        if Format.SVG in job.formats:
            self._svg = (RunPath(self.qr.size, svg_run), SvgLabel(self.artwork))
            _folder(job.folder / Format.SVG)
        if Format.PNG in job.formats:
            self._png = PngLabel(self.artwork, job.fonts)
            _folder(job.folder / Format.PNG)

    def render(self, part: Part, sheet: PdfSheet | None) -> None:
        """Adds the part's labels to `sheet` and writes their per-label files."""
        folder, size = self.job.folder, self.qr.size
        for serial, url in part:
            modules = self.qr.modules(url)
            if sheet is not None and self._pdf is not None:
                sheet.add(self._pdf(modules), serial)
            if self._svg is not None:
                path, svg = self._svg
                (folder / Format.SVG / f"{serial}.svg").write_text(svg(path(modules), serial))
            if self._png is not None:
                image = self._png(modules, size, serial)
                image.save(folder / Format.PNG / f"{serial}.png", compress_level=1)

    def render_part(self, pdf: Path | None, part: Part) -> None:
        job = self.job
        sheet = PdfSheet(pdf, self.artwork, job.layout, job.fonts, title=job.title) if pdf else None
        self.render(part, sheet)
        if sheet is not None:
            sheet.close()


def _folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabelError(
            bilingual(f"không tạo được {path}", f"cannot create {path}: {exc}")
        ) from None


_worker: _Renderer | None = None


def _start_worker(job: PrintJob) -> None:
    global _worker  # one renderer per worker process, built once
    _worker = _Renderer(job)


def _render_part(numbered: tuple[Path | None, Part]) -> None:
    assert _worker is not None, "worker started without its print job"
    _worker.render_part(*numbered)
