"""Labels rendered per second for a 10,000-unit print run, against `segno.make(url)` with
segno's defaults in the same run.

    .venv/bin/python bench/bench_label_render.py [--labels 10000] [--rounds 3] [--format pdf]

A "label rendered" is what `ocop-station print-labels` does per unit once the labels are
signed: its QR code, and its place on the A4 PDF sheet (vector code, serial) and/or its own
SVG or PNG file, written to disk. The baseline is the bare QR code as `segno.make(url)`
makes it with its defaults (automatic version, level L boosted, automatic mask), measured
on a sample of the same URLs (it is ~100 times slower, so the whole run would take minutes).
Rounds of baseline and renders alternate so that other load hits both alike; figures are
medians. Every round starts cold: the QR template and its caches are rebuilt.

Target: at least 4x the baseline per core, and every core used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import segno

from contract.label import LabelBatch
from keys.signing import LabelSigner, SigningKey
from producers import qr
from producers.labels import LabelContent
from producers.printing import Format, render_labels

PRODUCT = "/01/08931234567897"
LOT = "L2503A0001"
CONTENT = LabelContent(
    product_name="Mắm cáy Hồng Tiến",
    producer_name="HTX Dịch vụ Nông nghiệp Hồng Tiến",
    lot=LOT,
    production_date=date(2025, 3, 1),
    expiry_date=date(2026, 3, 1),
    stars=4,
)


def cold() -> None:
    """Forgets what an earlier round learnt about QR codes of this version."""
    for cached in (qr._placement, qr._codeword_response, qr._bit_response):
        cached.cache_clear()


def baseline(urls: list[str]) -> float:
    started = time.perf_counter()
    for url in urls:
        segno.make(url)
    return len(urls) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=int, default=300, help="URLs for the baseline")
    parser.add_argument(
        "--format", action="append", type=Format, help="pdf (default), svg, png; repeatable"
    )
    args = parser.parse_args()
    formats = args.format or [Format.PDF]
    cores = os.cpu_count() or 1

    key = SigningKey.generate()
    signer = LabelSigner(key, LabelBatch("ocop.vn", PRODUCT, LOT, date(2025, 3, 10), 4, key.key_id))
    labels = [signer.sign() for _ in range(args.labels)]
    sample = [label.url for label in labels[: args.sample]]

    rates: dict[str, list[float]] = {"segno": [], "one": [], "all": []}
    version = ""
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            rates["segno"].append(baseline(sample))
            for name, workers in (("one", 1), ("all", cores)):
                cold()
                out = Path(folder) / f"{name}-{round_}"
                rendered = render_labels(labels, CONTENT, out, formats=formats, workers=workers)
                rates[name].append(rendered.labels / rendered.seconds)
                version = rendered.qr_version
    median = {name: statistics.median(values) for name, values in rates.items()}

    defaults = segno.make(labels[0].url)
    what = " + ".join(f.value.upper() for f in formats)
    modules = 17 + 4 * int(version.split("-")[0])
    print(
        f"label URL {len(labels[0].url)} characters: printed as QR version {version} "
        f"({modules} x {modules} modules); segno.make's defaults pick {defaults.designator}"
    )
    print(f"{args.labels:,} labels, {what}; medians of {args.rounds} rounds; {cores} cores")
    base = median["segno"]
    print(f"segno.make(url), defaults      {base:9.0f} /s  (sample of {len(sample)})")
    print(f"rendered, 1 process            {median['one']:9.0f} /s  {median['one'] / base:5.1f}x")
    print(
        f"rendered, {cores} processes          {median['all']:9.0f} /s  "
        f"{median['all'] / base:5.1f}x ({median['all'] / cores / base:.1f}x per core)"
    )


if __name__ == "__main__":
    main()
