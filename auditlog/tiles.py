"""C2SP tiled logs (c2sp.org/tlog-tiles): the tree as static, cacheable files.

A log that serves tiles needs no proof server: any client fetches the few tiles it needs
and computes any inclusion or consistency proof itself, and a CDN or a plain directory can
serve them. A tile is 256 consecutive hashes at one tile level: level 0 holds leaf hashes,
level L holds the roots of full tiles of level L - 1, that is Merkle level 8 * L. The
rightmost tiles of each level are partial (1 to 255 hashes, `.p/<W>`) and never hashed
into the level above. Entries are served in bundles of 256, each entry prefixed with its
2-byte big-endian length.

`TileHashReader` answers merkle.HashReader from tiles, so merkle.inclusion_proof and
merkle.consistency_proof work unchanged against a tile store or a remote log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from auditlog.merkle import HASH_SIZE, HashReader, MemoryHashes, root_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
"""Entry bundles prefix each entry with a uint16 length."""


class MalformedTile(ValueError):
    """Bytes that are not the tile or entry bundle asked for."""


def encode_index(index: int) -> str:
    """A tile index as path elements of 3 digits, all but the last x-prefixed.

    1234067 is `x001/x234/067`: no directory ever has the name of a file beside it, so
    tiles can be stored as files and served as they are.
    """
    if index < 0:
        raise ValueError(f"tile index {index} is negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _width_suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


@dataclass(frozen=True, order=True)
class TileId:
    """A tile: its level, its index within the level and its width (256 when full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise ValueError(f"tile level {self.level} is not between 0 and {MAX_TILE_LEVEL}")
        if self.index < 0 or not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"tile index {self.index} or width {self.width} out of range")

    @property
    def path(self) -> str:
        return f"tile/{self.level}/{encode_index(self.index)}{_width_suffix(self.width)}"


def entry_bundle_path(index: int, width: int = TILE_WIDTH) -> str:
    """Where the bundle of entries [index * 256, index * 256 + width) is served."""
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"entry bundle width {width} out of range")
    return f"tile/entries/{encode_index(index)}{_width_suffix(width)}"


def tile_of(level: int, index: int, size: int) -> TileId:
    """The tile of a tree of `size` leaves that holds hash `index` of tile level `level`."""
    tile_index = index // TILE_WIDTH
    full_tiles = size >> (TILE_HEIGHT * (level + 1))
    if tile_index < full_tiles:
        return TileId(level, tile_index)
    width = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
    if tile_index > full_tiles or index % TILE_WIDTH >= width:
        raise IndexError(f"a tree of size {size} has no hash {index} at tile level {level}")
    return TileId(level, tile_index, width)


def tiles_for_size(size: int) -> list[TileId]:
    """Every tile a tree of `size` leaves is published as, level by level."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    tiles: list[TileId] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        full_tiles = size >> (TILE_HEIGHT * (level + 1))
        tiles.extend(TileId(level, index) for index in range(full_tiles))
        width = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
        if width:
            tiles.append(TileId(level, full_tiles, width))
        level += 1
    return tiles


def tile_contents(reader: HashReader, tile: TileId) -> bytes:
    """The bytes of a tile: hash i is MTH of the 256**level leaves under it (tlog-tiles)."""
    first = tile.index * TILE_WIDTH
    merkle_level = TILE_HEIGHT * tile.level
    return b"".join(reader.subtree_hash(merkle_level, first + i) for i in range(tile.width))


def build_tiles(leaf_hashes: Sequence[bytes]) -> dict[TileId, bytes]:
    """Every tile of the tree over these leaf hashes, by tile."""
    reader = MemoryHashes(leaf_hashes)
    return {tile: tile_contents(reader, tile) for tile in tiles_for_size(len(leaf_hashes))}


def parse_tile(data: bytes, width: int) -> list[bytes]:
    """The hashes of a tile that should be `width` hashes wide."""
    if len(data) != width * HASH_SIZE:
        detail = f"a tile of width {width} has {width * HASH_SIZE} bytes, not {len(data)}"
        raise MalformedTile(detail)
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1 to 256 entries, not {len(entries)}")
    parts: list[bytes] = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit a uint16 length")
        parts += [len(entry).to_bytes(2, "big"), entry]
    return b"".join(parts)


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """The entries of a bundle that should hold `width` of them."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise MalformedTile(f"entry {len(entries)} is cut inside its length")
        end = at + 2 + int.from_bytes(data[at : at + 2], "big")
        if end > len(data):
            raise MalformedTile(f"entry {len(entries)} runs past the end of the bundle")
        entries.append(data[at + 2 : end])
        at = end
    if len(entries) != width:
        raise MalformedTile(f"the bundle holds {len(entries)} entries, not {width}")
    return entries


class TileHashReader:
    """A merkle.HashReader over the tiles of one tree size, fetched as needed and kept.

    `fetch` returns a tile's bytes (from a store, a directory or over HTTP). The tiles are
    not checked here: every proof made from them is verified against a signed checkpoint,
    which is what catches a wrong tile.
    """

    def __init__(self, fetch: Callable[[TileId], bytes], size: int) -> None:
        self._fetch = fetch
        self._size = size
        self._tiles: dict[TileId, list[bytes]] = {}

    def subtree_hash(self, level: int, index: int) -> bytes:
        if level < 0 or index < 0 or (index + 1) << level > self._size:
            raise IndexError(f"no complete subtree at level {level}, index {index}")
        # The subtree's root sits above 2**rest consecutive hashes of one tile.
        tile_level, rest = divmod(level, TILE_HEIGHT)
        first = index << rest
        tile = tile_of(tile_level, first, self._size)
        hashes = self._tiles.get(tile)
        if hashes is None:
            hashes = self._tiles[tile] = parse_tile(self._fetch(tile), tile.width)
        offset = first % TILE_WIDTH
        return root_hash(hashes[offset : offset + (1 << rest)])
