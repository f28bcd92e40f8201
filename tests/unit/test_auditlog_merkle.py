"""The RFC 9162 tree: RFC 6962's test vectors, the known proofs of transparency-dev/merkle,
and properties over random trees (every generated proof verifies; damage is named)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.merkle import (
    EMPTY_ROOT,
    MemoryHashes,
    ProofCheck,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

# RFC 6962's eight test leaves (transparency-dev/merkle testonly.LeafInputs).
ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
LEAVES = [leaf_hash(e) for e in ENTRIES]
READER = MemoryHashes(LEAVES)

# testonly.RootHashes: the root of the first n leaves, n = 0..8.
ROOTS = [
    EMPTY_ROOT.hex(),
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# testonly.NodeHashes: every complete subtree, NODES[level][index].
NODES = [
    [
        bytes.fromhex(h)
        for h in [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ]
    ],
    [
        bytes.fromhex(h)
        for h in [
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ]
    ],
    [
        bytes.fromhex(h)
        for h in [
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ]
    ],
    [bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]


def n(level: int, index: int) -> bytes:
    return NODES[level][index]


def b64(*hashes: str) -> list[bytes]:
    return [base64.b64decode(h) for h in hashes]


# RFC 6962's size-7 tree as transparency-dev/merkle's proof_test.go draws it: g h i are
# level-1 nodes, k is level 2, and l = hash(i, j) is the right edge no store keeps.
L = node_hash(n(1, 2), n(0, 6))


def test_every_root_of_the_rfc6962_vectors():
    assert [tree_root(READER, size).hex() for size in range(9)] == ROOTS
    assert [root_hash(LEAVES[:size]).hex() for size in range(9)] == ROOTS
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def test_every_complete_subtree_of_the_rfc6962_vectors():
    for level, hashes in enumerate(NODES):
        assert [READER.subtree_hash(level, i) for i in range(len(hashes))] == hashes


# (index, size, proof): proof_test.go's TestInclusion and the testdata happy paths.
KNOWN_INCLUSION = [
    (0, 1, []),
    (0, 2, [n(0, 1)]),
    (1, 2, [n(0, 0)]),
    (1, 3, [n(0, 0), n(0, 2)]),
    (0, 7, [n(0, 1), n(1, 1), L]),
    (2, 7, [n(0, 3), n(1, 0), L]),
    (4, 7, [n(0, 5), n(0, 6), n(2, 0)]),
    (6, 7, [n(1, 2), n(2, 0)]),
    (2, 4, [n(0, 3), n(1, 0)]),
    (3, 5, [n(0, 2), n(1, 0), n(0, 4)]),
    (3, 6, [n(0, 2), n(1, 0), n(1, 2)]),
    (4, 6, [n(0, 5), n(2, 0)]),
    # testdata/inclusion/{1,2,3,4}/happy-path.json, in their own base64
    (
        0,
        8,
        b64(
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ),
    ),
    (
        5,
        8,
        b64(
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ),
    ),
    (2, 3, b64("+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=")),
    (
        1,
        5,
        b64(
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ),
    ),
]

# (old size, new size, proof): proof_test.go's TestConsistency and the testdata happy paths.
KNOWN_CONSISTENCY = [
    (1, 1, []),
    (4, 4, []),
    (1, 2, [n(0, 1)]),
    (1, 4, [n(0, 1), n(1, 1)]),
    (1, 6, [n(0, 1), n(1, 1), n(1, 2)]),
    (2, 3, [n(0, 2)]),
    (2, 8, [n(1, 1), n(2, 1)]),
    (3, 7, [n(0, 2), n(0, 3), n(1, 0), L]),
    (4, 7, [L]),
    (5, 7, [n(0, 4), n(0, 5), n(0, 6), n(2, 0)]),
    (6, 7, [n(1, 2), n(0, 6), n(2, 0)]),
    (7, 8, [n(0, 6), n(0, 7), n(1, 2), n(2, 0)]),
    (2, 4, [n(1, 1)]),
    (3, 5, [n(0, 2), n(0, 3), n(1, 0), n(0, 4)]),
    (3, 6, [n(0, 2), n(0, 3), n(1, 0), n(1, 2)]),
    (4, 6, [n(1, 2)]),
    (
        1,
        8,
        b64(
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ),
    ),
    (
        6,
        8,
        b64(
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ),
    ),
    (
        2,
        5,
        b64(
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ),
    ),
    (
        6,
        7,
        b64(
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ),
    ),
]


@pytest.mark.parametrize(("index", "size", "proof"), KNOWN_INCLUSION)
def test_known_inclusion_proofs_are_generated_and_verify(index, size, proof):
    assert inclusion_proof(READER, index, size) == proof
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(LEAVES[index], index, size, proof, root).reason is ProofCheck.OK


@pytest.mark.parametrize(("old", "new", "proof"), KNOWN_CONSISTENCY)
def test_known_consistency_proofs_are_generated_and_verify(old, new, proof):
    assert consistency_proof(READER, old, new) == proof
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    verdict = verify_consistency(old, new, old_root, new_root, proof)
    assert verdict.reason is ProofCheck.OK


def test_generation_refuses_what_no_proof_exists_for():
    for index, size in [(0, 0), (1, 1), (8, 7), (-1, 3)]:
        with pytest.raises(ValueError, match="not in a tree"):
            inclusion_proof(READER, index, size)
    for old, new in [(5, 4), (-1, 2)]:
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_proof(READER, old, new)
    with pytest.raises(IndexError):
        inclusion_proof(READER, 0, 9)  # the reader holds 8 leaves


ROOT8 = bytes.fromhex(ROOTS[8])
ROOT6 = bytes.fromhex(ROOTS[6])
ROOT7 = bytes.fromhex(ROOTS[7])


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((LEAVES[5], 8, 8, [], ROOT8), ProofCheck.BAD_INDEX),
        ((LEAVES[0], 0, 0, [], EMPTY_ROOT), ProofCheck.BAD_INDEX),
        ((LEAVES[5][:31], 5, 8, [], ROOT8), ProofCheck.BAD_HASH_LENGTH),
        ((LEAVES[5], 5, 8, [b"\x00" * 33], ROOT8), ProofCheck.BAD_HASH_LENGTH),
        ((LEAVES[5], 5, 8, KNOWN_INCLUSION[13][2][:2], ROOT8), ProofCheck.WRONG_PATH_LENGTH),
        ((LEAVES[5], 5, 8, [*KNOWN_INCLUSION[13][2], L], ROOT8), ProofCheck.WRONG_PATH_LENGTH),
        ((LEAVES[4], 5, 8, KNOWN_INCLUSION[13][2], ROOT8), ProofCheck.WRONG_ROOT),
        ((LEAVES[5], 5, 8, KNOWN_INCLUSION[13][2], ROOT6), ProofCheck.WRONG_ROOT),
        ((LEAVES[0], 0, 1, [], EMPTY_ROOT), ProofCheck.WRONG_ROOT),
    ],
)
def test_inclusion_failures_are_named(args, reason):
    verdict = verify_inclusion(*args)
    assert (verdict.reason, verdict.ok) == (reason, False)
    assert verdict.detail


R1, R2 = bytes.fromhex(ROOTS[1]), bytes.fromhex(ROOTS[2])


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        # transparency-dev/merkle testdata/consistency/additional, case by case
        ((2, 1, R2, R1, []), ProofCheck.SIZE_SHRINKS),
        ((1, 1, R1, R1, [R1]), ProofCheck.WRONG_PATH_LENGTH),
        ((0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]), ProofCheck.WRONG_PATH_LENGTH),
        ((1, 1, R1, R2, []), ProofCheck.WRONG_ROOT),
        ((0, 0, R1, R1, []), ProofCheck.WRONG_OLD_ROOT),
        ((1, 2, R1, R2, []), ProofCheck.WRONG_PATH_LENGTH),
        ((0, 1, EMPTY_ROOT, R1, [EMPTY_ROOT]), ProofCheck.WRONG_PATH_LENGTH),
        ((0, 1, R1, R1, []), ProofCheck.WRONG_OLD_ROOT),
        # ours
        ((1, 2, R1[:5], R2, [n(0, 1)]), ProofCheck.BAD_HASH_LENGTH),
        # a complete old tree's root starts the walk, so only the new root can come out wrong
        ((1, 2, R2, R2, [n(0, 1)]), ProofCheck.WRONG_ROOT),
        ((3, 7, ROOT6, ROOT7, KNOWN_CONSISTENCY[7][2]), ProofCheck.WRONG_OLD_ROOT),
        ((1, 2, R1, R1, [n(0, 1)]), ProofCheck.WRONG_ROOT),
        ((6, 8, ROOT6, ROOT8, KNOWN_CONSISTENCY[-3][2][:2]), ProofCheck.WRONG_PATH_LENGTH),
    ],
)
def test_consistency_failures_are_named(args, reason):
    verdict = verify_consistency(*args)
    assert (verdict.reason, verdict.ok) == (reason, False)


def test_the_empty_tree_is_consistent_with_any_tree_by_an_empty_proof():
    # c2sp.org/tlog-witness: old size 0, empty proof. transparency-dev/merkle refuses this
    # case ("meaningless"); a witness's first cosignature needs it.
    assert consistency_proof(READER, 0, 5) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, bytes.fromhex(ROOTS[5]), []).ok
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []).ok


# Properties over random trees of up to 300 leaves.

BIG_LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
BIG = MemoryHashes(BIG_LEAVES)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 read literally, as an independent reference."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def flip(hashes: list[bytes], which: int, byte: int) -> list[bytes]:
    damaged = bytearray(hashes[which])
    damaged[byte] ^= 0x01
    return [*hashes[:which], bytes(damaged), *hashes[which + 1 :]]


sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=150, deadline=None)
@given(size=sizes)
def test_roots_match_the_literal_definition(size):
    assert tree_root(BIG, size) == mth(BIG_LEAVES[:size])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=sizes)
def test_every_inclusion_proof_verifies_and_damage_is_named(data, size):
    index = data.draw(st.integers(0, size - 1))
    path = inclusion_proof(BIG, index, size)
    root = tree_root(BIG, size)
    assert verify_inclusion(BIG_LEAVES[index], index, size, path, root).ok

    # A flipped byte anywhere in the proof, or in the leaf, leads to another root.
    byte = data.draw(st.integers(0, 31))
    if path:
        damaged = flip(path, data.draw(st.integers(0, len(path) - 1)), byte)
        verdict = verify_inclusion(BIG_LEAVES[index], index, size, damaged, root)
        assert verdict.reason is ProofCheck.WRONG_ROOT
    bad_leaf = flip([BIG_LEAVES[index]], 0, byte)[0]
    assert verify_inclusion(bad_leaf, index, size, path, root).reason is ProofCheck.WRONG_ROOT

    # The proof against another tree (size and root) fails, unless both trees happen to
    # have the same proof for this leaf; the reason says whether the length gave it away.
    other = data.draw(st.integers(index + 1, 300).filter(lambda s: s != size))
    verdict = verify_inclusion(BIG_LEAVES[index], index, other, path, tree_root(BIG, other))
    expected = inclusion_proof(BIG, index, other)
    if expected == path:
        assert verdict.ok
    elif len(expected) != len(path):
        assert verdict.reason is ProofCheck.WRONG_PATH_LENGTH
    else:
        assert verdict.reason is ProofCheck.WRONG_ROOT
    # The wrong index with the right proof.
    wrong_index = data.draw(st.integers(0, 400).filter(lambda i: i != index))
    verdict = verify_inclusion(BIG_LEAVES[index], wrong_index, size, path, root)
    assert not verdict.ok
    assert verdict.reason in {
        ProofCheck.BAD_INDEX,
        ProofCheck.WRONG_PATH_LENGTH,
        ProofCheck.WRONG_ROOT,
    }
    assert (verdict.reason is ProofCheck.BAD_INDEX) == (wrong_index >= size)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), new=sizes)
def test_every_consistency_proof_verifies_and_damage_is_named(data, new):
    old = data.draw(st.integers(1, new))
    path = consistency_proof(BIG, old, new)
    old_root, new_root = tree_root(BIG, old), tree_root(BIG, new)
    assert verify_consistency(old, new, old_root, new_root, path).ok

    wrong_roots = {ProofCheck.WRONG_OLD_ROOT, ProofCheck.WRONG_ROOT}
    byte = data.draw(st.integers(0, 31))
    if path:
        damaged = flip(path, data.draw(st.integers(0, len(path) - 1)), byte)
        assert verify_consistency(old, new, old_root, new_root, damaged).reason in wrong_roots
        shorter = path[:-1]
        verdict = verify_consistency(old, new, old_root, new_root, shorter)
        assert verdict.reason is ProofCheck.WRONG_PATH_LENGTH
    assert verify_consistency(new, old, new_root, old_root, path).reason is (
        ProofCheck.SIZE_SHRINKS if old < new else ProofCheck.OK
    )
    bad_old = flip([old_root], 0, byte)[0]
    assert verify_consistency(old, new, bad_old, new_root, path).reason in wrong_roots

    # Against another new tree (size and root): fails unless its proof is the same.
    other = data.draw(st.integers(old, 300).filter(lambda s: s != new))
    verdict = verify_consistency(old, other, old_root, tree_root(BIG, other), path)
    expected = consistency_proof(BIG, old, other)
    if expected == path:
        assert verdict.ok
    elif len(expected) != len(path):
        assert verdict.reason is ProofCheck.WRONG_PATH_LENGTH
    else:
        assert verdict.reason in wrong_roots
