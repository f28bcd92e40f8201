"""QR codes for every label of a print run: segno encodes once, each label is a few XORs.

Why not `segno.make` per label: at error level M with version and mask fixed it still costs
milliseconds per code in pure Python (Reed-Solomon, placement, masking), and a 10,000-unit
run would spend most of its time there. The labels of one run differ only in serial and
signature (contract.label builds every URL around them), and with version, error level and
mask fixed a QR code's modules are an affine function over GF(2) of the content's bits:
the byte-mode data codewords are the content's bytes after a constant header, Reed-Solomon
error correction is GF(256)-linear, interleaving and placement only move bits, and the mask
and the format and version information are constants. So

    modules(url) = modules(reference) XOR  sum of response(bit)  over the bits where they differ

segno encodes the reference, and the response of each data codeword (one call per codeword
the serial and signature touch: about a hundred, not one per label); a label then costs
about a hundred XORs of ~3,000-bit integers. The result is bit-for-bit what
`segno.make(url, error="m", version=v, mask=m)` returns, and construction checks that on a
probe whose every variable character differs from the reference, so a change inside segno
fails loudly here instead of printing codes that do not scan.

The mask is the one segno's penalty evaluation picks for the reference, fixed for the run:
every mask gives a valid code; only the choice per code is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import segno
from segno import consts as _consts
from segno import encoder as _encoder

from contract.label import LabelBatch

# segno's encoder module is internal and untyped; the self-check in BatchQr guards its use
encoder: Any = _encoder
consts: Any = _consts

ERROR_LEVEL = "m"
_ERROR = consts.ERROR_LEVEL_M
_BYTE_MODE_INDICATOR_BITS = 4


class BatchQr:
    """The QR modules of any label URL of one batch's print run."""

    def __init__(self, reference: str, probe: str, variable: Sequence[int]) -> None:
        """`variable`: the positions where URLs of the run may differ from `reference`."""
        chosen = segno.make(reference, error=ERROR_LEVEL, boost_error=False, micro=False)
        if chosen.mode != "byte":
            raise ValueError(f"label URLs are encoded in byte mode, not {chosen.mode}")
        self.version: int = int(chosen.version)
        self.mask: int = chosen.mask
        self.size: int = len(chosen.matrix)
        self._reference = reference
        self._positions = tuple(variable)
        self._fixed = _fixed_spans(len(reference), self._positions)
        self._base = _as_int(chosen.matrix)
        self._format = f"0{self.size * self.size}b"
        self._header_bits = (
            _BYTE_MODE_INDICATOR_BITS
            + consts.CHAR_COUNT_INDICATOR_LENGTH[consts.MODE_BYTE][
                encoder.version_range(self.version)
            ]
        )
        self._deltas: list[dict[str, int]] = [{} for _ in self._positions]
        if self.modules(probe) != self.segno_modules(probe):
            raise RuntimeError(
                f"QR template self-check failed: segno {segno.__version__} encodes differently "
                "from what producers.qr expects (its encoder internals changed?)"
            )

    @classmethod
    def for_batch(cls, batch: LabelBatch) -> BatchQr:
        """The template for a run's labels, found from the contract's own URL builder."""
        reference = batch.url("0" * 12, bytes(64))
        probe = batch.url("1" * 12, b"\xff" * 64)  # differs from reference in every variable char
        variable = [i for i, (a, b) in enumerate(zip(reference, probe, strict=True)) if a != b]
        return cls(reference, probe, variable)

    def modules(self, url: str) -> str:
        """The modules row by row, "1" for dark: `size` rows of `size` characters."""
        reference = self._reference
        if len(url) != len(reference) or any(
            url[start:end] != reference[start:end] for start, end in self._fixed
        ):
            raise ValueError(f"not a label URL of this print run: {url!r}")
        matrix = self._base
        for index, position in enumerate(self._positions):
            char = url[position]
            if char != reference[position]:
                delta = self._deltas[index].get(char)
                if delta is None:
                    delta = self._deltas[index][char] = self._delta(position, char)
                matrix ^= delta
        return format(matrix, self._format)

    def segno_modules(self, url: str) -> str:
        """What segno itself makes of `url` at this run's version and mask (the slow way)."""
        code = segno.make(
            url,
            error=ERROR_LEVEL,
            version=self.version,
            mask=self.mask,
            boost_error=False,
            micro=False,
        )
        return format(_as_int(code.matrix), self._format)

    def _delta(self, position: int, char: str) -> int:
        """The modules that flip when the byte at `position` changes to `char`."""
        flipped = ord(char) ^ ord(self._reference[position])
        if flipped > 0x7F:
            raise ValueError(f"label URLs are ASCII, got {char!r}")
        first = self._header_bits + 8 * position
        delta = 0
        for bit in range(8):
            if flipped >> (7 - bit) & 1:
                delta ^= _bit_response(self.version, first + bit)
        return delta


def _fixed_spans(length: int, variable: Sequence[int]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for position in variable:
        if position > start:
            spans.append((start, position))
        start = position + 1
    if start < length:
        spans.append((start, length))
    return spans


def _as_int(matrix: Sequence[bytearray]) -> int:
    return int(b"".join(bytes(row) for row in matrix).translate(_DIGITS), 2)


_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


@cache
def _placement(version: int) -> tuple[int, ...]:
    """Module index (row * size + column) of each bit of the final message, in order."""
    size = encoder.calc_matrix_size(version)
    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    rows = [list(row) for row in matrix]  # lists: the markers below exceed a byte
    free = sum(row.count(0x2) for row in rows)
    encoder.add_codewords(rows, range(0x3, free + 0x3), version)  # bit i lands as marker i+3
    placed = [0] * free
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value >= 0x3:
                placed[value - 0x3] = r * size + c
    return tuple(placed)


@cache
def _codeword_response(version: int, codeword: int) -> tuple[tuple[int, int], ...]:
    """(final message byte index, value) of the message whose only data codeword is 1."""
    bits = bytearray(consts.SYMBOL_CAPACITY[version][_ERROR])
    bits[8 * codeword + 7] = 1
    message = encoder.make_final_message(version, _ERROR, encoder.Buffer(bits)).getbits()
    values = (int(message[i : i + 8].translate(_DIGITS), 2) for i in range(0, len(message), 8))
    return tuple((index, value) for index, value in enumerate(values) if value)


@cache
def _bit_response(version: int, data_bit: int) -> int:
    """The modules that flip with one bit of the data stream: a GF(256) multiple, by 2**k,
    of its codeword's response (2**k is alpha**k in the QR field), placed in the matrix."""
    codeword, offset = divmod(data_bit, 8)
    exponent = 7 - offset
    placement = _placement(version)
    last = encoder.calc_matrix_size(version) ** 2 - 1
    modules = 0
    for index, value in _codeword_response(version, codeword):
        scaled = consts.GALIOS_EXP[(consts.GALIOS_LOG[value] + exponent) % 255]
        for bit in range(8):
            if scaled >> (7 - bit) & 1:
                modules |= 1 << (last - placement[8 * index + bit])
    return modules
