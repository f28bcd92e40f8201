"""Tiles: the spec's paths and tile sets, tile contents, and a tile-backed reader that
gives the very proofs the in-memory tree gives, from a handful of tiles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.merkle import (
    MemoryHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    tree_root,
)
from auditlog.tiles import (
    MalformedTile,
    TileHashReader,
    TileId,
    build_tiles,
    encode_entry_bundle,
    encode_index,
    entry_bundle_path,
    parse_entry_bundle,
    parse_tile,
    tiles_for_size,
)


@pytest.mark.parametrize(
    ("index", "encoded"),
    [
        (1234067, "x001/x234/067"),  # the spec's example
        (0, "000"),
        (7, "007"),
        (999, "999"),
        (1000, "x001/000"),
        (1_000_000, "x001/x000/000"),
    ],
)
def test_tile_index_encoding(index, encoded):
    assert encode_index(index) == encoded


def test_tile_and_entry_bundle_paths():
    assert TileId(0, 1234067).path == "tile/0/x001/x234/067"
    assert TileId(1, 1234067, 17).path == "tile/1/x001/x234/067.p/17"
    assert TileId(63, 0, 1).path == "tile/63/000.p/1"
    assert entry_bundle_path(1234067) == "tile/entries/x001/x234/067"
    assert entry_bundle_path(2, 112) == "tile/entries/002.p/112"
    for bad in [(64, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(ValueError, match=r"out of range|between 0 and 63"):
            TileId(*bad)


def test_the_spec_tile_sets():
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
    # 17, and one partial level 2 tile of width 1."
    expected = [TileId(0, i) for i in range(273)] + [
        TileId(0, 273, 112),
        TileId(1, 0),
        TileId(1, 1, 17),
        TileId(2, 0, 1),
    ]
    assert tiles_for_size(70_000) == expected
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    # tile of width 1."
    assert tiles_for_size(256) == [TileId(0, 0), TileId(1, 0, 1)]
    assert tiles_for_size(255) == [TileId(0, 0, 255)]
    assert tiles_for_size(0) == []


LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(70_000)]
TREE = MemoryHashes(LEAVES)


def test_tile_contents():
    tiles = build_tiles(LEAVES[:600])
    assert set(tiles) == {TileId(0, 0), TileId(0, 1), TileId(0, 2, 88), TileId(1, 0, 2)}
    assert parse_tile(tiles[TileId(0, 2, 88)], 88) == LEAVES[512:600]
    # a level-1 hash is the root of a full level-0 tile
    assert parse_tile(tiles[TileId(1, 0, 2)], 2) == [
        root_hash(LEAVES[:256]),
        root_hash(LEAVES[256:512]),
    ]


def test_tiles_of_the_wrong_size_are_refused():
    with pytest.raises(MalformedTile, match="width 3"):
        parse_tile(b"\x00" * 95, 3)
    tiles = build_tiles(LEAVES[:300])
    reader = TileHashReader(lambda tile: tiles[TileId(0, 0)], 300)  # always the full tile
    with pytest.raises(MalformedTile):
        inclusion_proof(reader, 299, 300)


class CountingStore:
    """Tiles by id, counting the fetches a reader makes."""

    def __init__(self, tiles: dict[TileId, bytes]) -> None:
        self.tiles = tiles
        self.fetched: list[TileId] = []

    def fetch(self, tile: TileId) -> bytes:
        self.fetched.append(tile)
        return self.tiles[tile]


BIG_STORE = CountingStore(build_tiles(LEAVES))


def test_a_big_tree_from_tiles_proves_as_the_memory_tree_does_from_few_tiles():
    size = len(LEAVES)
    for index in [0, 255, 256, 65_535, 65_536, 69_999]:
        store = CountingStore(BIG_STORE.tiles)
        reader = TileHashReader(store.fetch, size)
        assert inclusion_proof(reader, index, size) == inclusion_proof(TREE, index, size)
        assert len(set(store.fetched)) <= 6, store.fetched
    assert tree_root(reader, size) == tree_root(TREE, size)
    for old in [1, 256, 65_536, 69_000]:
        assert consistency_proof(reader, old, size) == consistency_proof(TREE, old, size)
    with pytest.raises(IndexError):
        reader.subtree_hash(17, 0)  # 2**17 leaves are more than the tree has


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(1, 2_000))
def test_tile_backed_proofs_equal_memory_proofs(data, size):
    store = CountingStore(build_tiles(LEAVES[:size]))
    reader = TileHashReader(store.fetch, size)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    assert inclusion_proof(reader, index, size) == inclusion_proof(TREE, index, size)
    assert consistency_proof(reader, old, size) == consistency_proof(TREE, old, size)
    assert tree_root(reader, size) == tree_root(TREE, size)
    # Every tile fetched is one the tree is published as (no partial tile is invented).
    assert set(store.fetched) <= set(store.tiles)


def test_entry_bundles_round_trip():
    entries = [b"", b"a", b"\x00" * 300, bytes(range(256))]
    bundle = encode_entry_bundle(entries)
    assert bundle[:5] == b"\x00\x00\x00\x01a"
    assert parse_entry_bundle(bundle, 4) == entries
    assert [leaf_hash(e) for e in parse_entry_bundle(bundle, 4)] == [leaf_hash(e) for e in entries]


@pytest.mark.parametrize(
    ("data", "width", "complaint"),
    [
        (b"\x00\x01a\x00", 2, "cut inside its length"),
        (b"\x00\x05abc", 1, "past the end"),
        (b"\x00\x01a\x00\x01b", 1, "holds 2 entries, not 1"),
        (b"", 1, "holds 0 entries"),
    ],
)
def test_broken_entry_bundles_say_why(data, width, complaint):
    with pytest.raises(MalformedTile, match=complaint):
        parse_entry_bundle(data, width)


def test_entry_bundles_refuse_what_does_not_fit():
    with pytest.raises(ValueError, match="uint16"):
        encode_entry_bundle([b"\x00" * 65_536])
    with pytest.raises(ValueError, match="1 to 256"):
        encode_entry_bundle([b"x"] * 257)
