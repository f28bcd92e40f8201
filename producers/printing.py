"""Rendering a print run on every core: codes and per-label files in worker processes, the
PDF sheet assembled in order by the caller.

Workers get chunks of labels and return each code's PDF path (and write the SVG and PNG
files themselves); the caller adds them to the one PDF file in the labels' order, so sheet
positions follow the serials as issued. Workers start with the "forkserver" method, not
"fork": the station may run a Kafka sender thread, and forking a process with threads can
leave a child holding a lock no thread will ever release.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from contract.label import LabelBatch, SignedLabel
from producers.errors import LabelError
from producers.labels import AVERY_L7160, Artwork, Fonts, LabelContent, SheetLayout, find_fonts
from producers.qr import BatchQr
from producers.render import PdfSheet, PngLabel, RunPath, SvgLabel, pdf_run, svg_run

CHUNK = 250
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


@dataclass(frozen=True)
class Rendered:
    pdf: Path | None
    pages: int
    files: int
    labels: int
    qr_version: str
    seconds: float


Progress = Callable[[int], None]


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

    `workers`: processes to use; every core by default, 1 renders in this process.
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
    chunks = [
        [(label.serial, label.url) for label in labels[i : i + CHUNK]]
        for i in range(0, len(labels), CHUNK)
    ]
    workers = workers or os.cpu_count() or 1
    sheet = None
    if Format.PDF in job.formats:
        sheet = PdfSheet(
            folder / PDF_NAME, renderer.artwork, layout, job.fonts, title=f"OCOP {batch.batch_id}"
        )
    if workers == 1 or len(chunks) == 1:
        _assemble(sheet, chunks, map(renderer.render, chunks), progress)
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(job,)
        ) as pool:
            _assemble(sheet, chunks, pool.map(_render_in_worker, chunks), progress)
    pages = sheet.close() if sheet else 0
    per_label = len(job.formats - {Format.PDF})
    return Rendered(
        pdf=folder / PDF_NAME if sheet else None,
        pages=pages,
        files=per_label * len(labels),
        labels=len(labels),
        qr_version=f"{renderer.qr.version}-M",
        seconds=time.perf_counter() - started,
    )


def _assemble(
    sheet: PdfSheet | None,
    chunks: list[list[tuple[str, str]]],
    results: Iterable[list[str]],
    progress: Progress | None,
) -> None:
    for chunk, paths in zip(chunks, results, strict=True):
        if sheet is not None:
            for (serial, _), path in zip(chunk, paths, strict=True):
                sheet.add(path, serial)
        if progress is not None:
            progress(len(chunk))


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

    def render(self, chunk: list[tuple[str, str]]) -> list[str]:
        """Writes the chunk's per-label files; returns each code's PDF path (if a PDF is made)."""
        pdf_paths = []
        folder, size = self.job.folder, self.qr.size
        for serial, url in chunk:
            modules = self.qr.modules(url)
            if self._pdf is not None:
                pdf_paths.append(self._pdf(modules))
            if self._svg is not None:
                path, svg = self._svg
                (folder / Format.SVG / f"{serial}.svg").write_text(svg(path(modules), serial))
            if self._png is not None:
                image = self._png(modules, size, serial)
                image.save(folder / Format.PNG / f"{serial}.png", compress_level=1)
        return pdf_paths


def _folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabelError(f"cannot create {path}: {exc}") from None


_worker: _Renderer | None = None


def _start_worker(job: PrintJob) -> None:
    global _worker  # one renderer per worker process, built once
    _worker = _Renderer(job)


def _render_in_worker(chunk: list[tuple[str, str]]) -> list[str]:
    assert _worker is not None, "worker started without its print job"
    return _worker.render(chunk)
