"""The RFC 9162 (§2.1) Merkle tree: hashes, roots, and inclusion and consistency proofs.

Every other part of the log only moves these hashes around, so this module is the one that
must agree bit for bit with RFC 6962/9162 and with transparency-dev/merkle: a leaf is
SHA-256(0x00 ‖ entry), an inner node SHA-256(0x01 ‖ left ‖ right), and a tree of n leaves
splits at the largest power of two below n.

Proofs are generated from a `HashReader`, which only has to answer the hash of a complete
subtree (2**level leaves starting at index * 2**level). A store keeping tiles answers that
from a few tiles without loading all leaves; `MemoryHashes` answers it from a list.

Verification follows the bit-walking algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 and
returns a `ProofVerdict` with a reason, so a caller can tell a forged root from a proof
for another tree size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1)."""


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one log entry: the 0x00 prefix keeps a leaf from passing for a node."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class HashReader(Protocol):
    """Answers the hash of any complete subtree of the tree it holds."""

    def subtree_hash(self, level: int, index: int) -> bytes:
        """The hash of leaves [index * 2**level, (index + 1) * 2**level)."""
        ...


class MemoryHashes:
    """Every complete subtree hash of a list of leaf hashes, worked out once (tests, tiles)."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        levels = [list(leaf_hashes)]
        while len(levels[-1]) > 1:
            below = levels[-1]
            levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
        self._levels = levels

    def subtree_hash(self, level: int, index: int) -> bytes:
        if level >= len(self._levels) or not 0 <= index < len(self._levels[level]):
            raise IndexError(f"no complete subtree at level {level}, index {index}")
        return self._levels[level][index]


def _split(n: int) -> int:
    """The largest power of two strictly below n (n > 1): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(reader: HashReader, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range the RFC recursion reaches (start aligned to the split)."""
    n = end - start
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return reader.subtree_hash(level, start >> level)
    k = _split(n)
    return node_hash(_range_hash(reader, start, start + k), _range_hash(reader, start + k, end))


def tree_root(reader: HashReader, size: int) -> bytes:
    """The root hash of the first `size` leaves the reader holds."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return EMPTY_ROOT if size == 0 else _range_hash(reader, 0, size)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 9162 §2.1.1)."""
    return tree_root(MemoryHashes(leaf_hashes), len(leaf_hashes))


def inclusion_proof(reader: HashReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, the leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(_range_hash(reader, start + k, end))
            end = start + k
        else:
            path.append(_range_hash(reader, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(reader: HashReader, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1.

    The empty tree is a prefix of every tree, so from size 0 the proof is empty, as
    c2sp.org/tlog-witness expects for a witness's first checkpoint.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0:
        return []
    path: list[bytes] = []
    start, end, whole = 0, new_size, True
    # SUBPROOF(m, D[start:end], whole) with m = old_size - start, unrolled into a loop.
    while old_size != end:
        k = _split(end - start)
        if old_size <= start + k:
            path.append(_range_hash(reader, start + k, end))
            end = start + k
        else:
            path.append(_range_hash(reader, start, start + k))
            start, whole = start + k, False
    if not whole:
        path.append(_range_hash(reader, start, end))
    path.reverse()
    return path


class ProofCheck(StrEnum):
    """Why a proof was accepted or refused; values are stored and sent, never renamed."""

    OK = "ok"
    BAD_HASH_LENGTH = "bad_hash_length"
    """A leaf hash, root or proof hash is not 32 bytes."""
    BAD_INDEX = "bad_index"
    """The leaf index is not below the tree size."""
    SIZE_SHRINKS = "size_shrinks"
    """The newer tree is smaller than the older one."""
    WRONG_PATH_LENGTH = "wrong_path_length"
    """The proof has more or fewer hashes than a proof for these sizes has."""
    WRONG_OLD_ROOT = "wrong_old_root"
    """A consistency proof does not lead back to the older tree's root."""
    WRONG_ROOT = "wrong_root"
    """The proof does not lead to the (newer) tree's root."""


@dataclass(frozen=True)
class ProofVerdict:
    reason: ProofCheck
    detail: str

    @property
    def ok(self) -> bool:
        return self.reason is ProofCheck.OK


_OK = ProofVerdict(ProofCheck.OK, "the proof verifies")


def _bad_lengths(named: Sequence[tuple[str, bytes]], path: Sequence[bytes]) -> ProofVerdict | None:
    for name, value in named:
        if len(value) != HASH_SIZE:
            return ProofVerdict(ProofCheck.BAD_HASH_LENGTH, f"{name} has {len(value)} bytes")
    for position, value in enumerate(path):
        if len(value) != HASH_SIZE:
            detail = f"proof hash {position} has {len(value)} bytes"
            return ProofVerdict(ProofCheck.BAD_HASH_LENGTH, detail)
    return None


def _wrong_length(path: Sequence[bytes], what: str) -> ProofVerdict:
    detail = f"{len(path)} hashes do not make a {what}"
    return ProofVerdict(ProofCheck.WRONG_PATH_LENGTH, detail)


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> ProofVerdict:
    """Whether `path` proves leaf hash `leaf` is entry `index` of the tree of `size` with `root`.

    RFC 9162 §2.1.3.2, step by step.
    """
    if bad := _bad_lengths([("leaf hash", leaf), ("root", root)], path):
        return bad
    # 1. The index must be inside the tree.
    if not 0 <= index < size:
        return ProofVerdict(ProofCheck.BAD_INDEX, f"leaf {index} is not in a tree of size {size}")
    what = f"proof for leaf {index} in a tree of size {size}"
    # 2.-4. Walk up from the leaf: fn is the node's index, sn the last node's on its level.
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return _wrong_length(path, what)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    # 5. The walk must end at the root, on the root.
    if sn != 0:
        return _wrong_length(path, what)
    if r != root:
        return ProofVerdict(ProofCheck.WRONG_ROOT, f"the {what} leads to another root")
    return _OK


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> ProofVerdict:
    """Whether `path` proves the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 §2.1.4.2, step by step, plus the two cases the RFC leaves out: equal sizes
    (an empty proof, equal roots) and an empty old tree (an empty proof, as
    c2sp.org/tlog-witness has it; transparency-dev/merkle refuses that case instead).
    """
    if old_size < 0:
        raise ValueError(f"tree size {old_size} is negative")
    if bad := _bad_lengths([("old root", old_root), ("new root", new_root)], path):
        return bad
    if old_size > new_size:
        detail = f"the tree shrinks from size {old_size} to size {new_size}"
        return ProofVerdict(ProofCheck.SIZE_SHRINKS, detail)
    what = f"consistency proof from size {old_size} to size {new_size}"
    if old_size == 0 or old_size == new_size:
        if path:
            return _wrong_length(path, what)
        if old_size == 0 and old_root != EMPTY_ROOT:
            return ProofVerdict(ProofCheck.WRONG_OLD_ROOT, "the empty tree has another root")
        if old_size == new_size and old_root != new_root:
            detail = f"two different roots for size {new_size}"
            return ProofVerdict(ProofCheck.WRONG_ROOT, detail)
        return _OK
    # 1. A proof between two different non-empty trees is never empty.
    if not path:
        return _wrong_length(path, what)
    # 2. If the old tree is complete, its root is the first node of the walk.
    nodes = [old_root, *path] if old_size & (old_size - 1) == 0 else list(path)
    # 3.-4. fn walks the old tree's last leaf up to the first node the proof gives.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # 5. fr rebuilds the old root, sr the new one.
    fr = sr = nodes[0]
    # 6. Walk the rest of the proof.
    for c in nodes[1:]:
        if sn == 0:
            return _wrong_length(path, what)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # 7. Both roots must come out, with the walk ending on the root.
    if sn != 0:
        return _wrong_length(path, what)
    if fr != old_root:
        return ProofVerdict(ProofCheck.WRONG_OLD_ROOT, f"the {what} leads to another old root")
    if sr != new_root:
        return ProofVerdict(ProofCheck.WRONG_ROOT, f"the {what} leads to another new root")
    return _OK
