"""The growing edge of the tree: what the log writer holds to append leaves and sign roots.

Appending only ever changes the rightmost tile of each tile level and the rightmost entry
bundle: every tile to their left is full and never changes again. So the writer holds the
hashes of those partial tiles and the entries of the partial bundle, nothing else, however
big the tree: at most 256 hashes per level and 256 entries. The root of the tree is worked
out from them too: each complete subtree of the root's decomposition smaller than a full
tile of level L + 1 lies inside the partial tile of level L.

`Edge.append` adds entries; `Edge.take_writes` hands over the tiles and bundle the appends
since the last call changed (full ones once, the partial ones as they stand), which the
writer stores before it moves the tree's head. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from auditlog.merkle import leaf_hash, root_hash, tree_root
from auditlog.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileHashReader,
    TileId,
    encode_entry_bundle,
    parse_tile,
    tiles_for_size,
)


@dataclass(frozen=True)
class EdgeWrites:
    """The tiles (by level and index, their hashes as stored) and entry bundles (by index,
    their entries) that changed; a partial tile or bundle is written as it stands and
    overwritten as it grows."""

    tiles: dict[tuple[int, int], bytes]
    bundles: dict[int, list[bytes]]

    def encoded_bundles(self) -> dict[int, bytes]:
        return {index: encode_entry_bundle(entries) for index, entries in self.bundles.items()}


def partial_tiles(size: int) -> list[TileId]:
    """The rightmost, not yet full tiles of a tree of `size`: what an Edge is loaded from."""
    return [tile for tile in tiles_for_size(size) if tile.width < TILE_WIDTH]


@dataclass
class Edge:
    size: int = 0
    levels: list[list[bytes]] = field(default_factory=list)
    """Per tile level, the hashes of its rightmost partial tile (empty when it just filled)."""
    bundle: list[bytes] = field(default_factory=list)
    """The entries of the rightmost partial entry bundle."""
    _tiles: dict[tuple[int, int], bytes] = field(default_factory=dict, repr=False)
    _touched: set[int] = field(default_factory=set, repr=False)
    _bundles: dict[int, list[bytes]] = field(default_factory=dict, repr=False)
    _bundle_touched: bool = field(default=False, repr=False)

    @classmethod
    def load(cls, size: int, tiles: Mapping[TileId, bytes], bundle: Sequence[bytes]) -> Edge:
        """The edge of a stored tree of `size`, from its partial tiles (partial_tiles(size);
        a stored tile may be wider, when a step that never completed wrote it: only the
        first `width` hashes are the tree's) and the first size % 256 entries of its
        partial bundle."""
        edge = cls(size=size)
        for tile in partial_tiles(size):
            data = tiles.get(tile)
            if data is None or len(data) < tile.width * 32:
                raise ValueError(f"the store lacks tile {tile.path} of a tree of size {size}")
            while len(edge.levels) <= tile.level:
                edge.levels.append([])
            edge.levels[tile.level] = parse_tile(data[: tile.width * 32], tile.width)
        levels_needed = _tile_levels(size)
        while len(edge.levels) < levels_needed:
            edge.levels.append([])
        width = size % TILE_WIDTH
        if len(bundle) < width:
            raise ValueError(f"the store lacks entries of a tree of size {size}")
        edge.bundle = list(bundle[:width])
        return edge

    def append(self, entry: bytes) -> int:
        """Adds an entry as the next leaf; returns its index."""
        index = self.size
        self.bundle.append(entry)
        self._bundle_touched = True
        if len(self.bundle) == TILE_WIDTH:
            self._bundles[index // TILE_WIDTH] = self.bundle
            self.bundle = []
            self._bundle_touched = False
        value, position, level = leaf_hash(entry), index, 0
        while True:
            if level == len(self.levels):
                self.levels.append([])
            hashes = self.levels[level]
            hashes.append(value)
            if len(hashes) < TILE_WIDTH:
                self._touched.add(level)
                break
            # the tile filled: stored once, its root goes one tile level up
            tile_index = position // TILE_WIDTH
            self._tiles[level, tile_index] = b"".join(hashes)
            self._touched.discard(level)
            value = root_hash(hashes)
            self.levels[level] = []
            position, level = tile_index, level + 1
        self.size += 1
        return index

    def take_writes(self) -> EdgeWrites:
        """The tiles and bundles changed since the last call, as they now stand."""
        tiles = dict(self._tiles)
        for level in self._touched:
            hashes = self.levels[level]
            if hashes:
                tiles[level, (self.size >> (TILE_HEIGHT * level)) // TILE_WIDTH] = b"".join(hashes)
        bundles = dict(self._bundles)
        if self._bundle_touched and self.bundle:
            bundles[self.size // TILE_WIDTH] = list(self.bundle)
        self._tiles, self._touched, self._bundles = {}, set(), {}
        self._bundle_touched = False
        return EdgeWrites(tiles, bundles)

    def root(self) -> bytes:
        """The root hash of the tree of `size` leaves."""
        return tree_root(TileHashReader(self._partial_tile, self.size), self.size)

    def _partial_tile(self, tile: TileId) -> bytes:
        hashes = self.levels[tile.level] if tile.level < len(self.levels) else []
        current = (self.size >> (TILE_HEIGHT * tile.level)) // TILE_WIDTH
        if tile.index != current or tile.width != len(hashes):
            raise LookupError(f"the edge does not hold tile {tile.path}")  # a bug of ours
        return b"".join(hashes)


def _tile_levels(size: int) -> int:
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels
