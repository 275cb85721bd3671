"""The Merkle tree hash of RFC 9162 (section 2.1): hashes, proofs and their verification.

Pure functions with no storage: the stored tree (``tipline.audit.tree``) asks which subtree
hashes a proof needs (``inclusion_ranges``, ``consistency_ranges``), reads them and passes
them back; the in-memory helpers here do the same from a list of leaf hashes. The verifiers
are what an outside witness runs, so they depend on nothing but ``hashlib``.

A subtree is written ``(lo, hi)``: the leaves ``lo`` to ``hi - 1``. Every subtree that
RFC 9162's recursion visits starts at a multiple of the smallest power of two not below its
size, so a *complete* one (a power of two in size) is one stored node, ``(level, lo >> level)``,
and an incomplete one (only ever on the right edge of a tree) is the right-fold of at most
log2 n complete ones (``complete_subtrees``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
#: The hash of the empty tree: SHA-256 of nothing.
EMPTY_ROOT = hashlib.sha256(b"").digest()

Range = tuple[int, int]


class ProofError(ValueError):
    """A proof asked for sizes or indexes that make no sense (index past the tree, ...)."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def complete_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` whose right-fold is the hash of ``(lo, hi)``.

    ``(lo, hi)`` must be a subtree of the recursion (``lo`` aligned as described above):
    its size's binary digits, largest first, each one stored node.
    """
    nodes = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a subtree from its ``complete_subtrees`` hashes (right-fold)."""
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes make PATH(index, D[size]), leaf end first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo = lo + k
    path.reverse()
    return path


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The subtrees whose hashes make PROOF(old, D[new]) (RFC 9162 2.1.4.1)."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from {old} leaves to {new}")
    if old == 0 or old == new:
        return []
    proof: list[Range] = []
    lo, hi, whole = 0, new, True
    while True:
        if old == hi:
            if not whole:
                proof.append((lo, hi))
            break
        k = _split(hi - lo)
        if old - lo <= k:
            proof.append((lo + k, hi))
            hi = lo + k
        else:
            proof.append((lo, lo + k))
            lo = lo + k
            whole = False
    proof.reverse()
    return proof


def _subtree_from_leaves(leaves: Sequence[bytes]) -> Callable[[int, int], bytes]:
    def subtree(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaves[lo]
        k = _split(hi - lo)
        return node_hash(subtree(lo, lo + k), subtree(lo + k, hi))

    return subtree


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf hashes ``leaves`` (in memory; for tests and rebuilds)."""
    if not leaves:
        return EMPTY_ROOT
    return _subtree_from_leaves(leaves)(0, len(leaves))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    subtree = _subtree_from_leaves(leaves)
    return [subtree(lo, hi) for lo, hi in inclusion_ranges(index, len(leaves))]


def consistency_proof(old: int, leaves: Sequence[bytes]) -> list[bytes]:
    subtree = _subtree_from_leaves(leaves)
    return [subtree(lo, hi) for lo, hi in consistency_ranges(old, len(leaves))]


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that ``proof`` leads to from ``leaf``; raises on a proof
    of the wrong length or shape."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("every hash is 32 bytes")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the path")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the path")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of ``size``
    leaves whose root is ``expected_root``."""
    try:
        return root_from_inclusion_proof(index, size, leaf, proof) == expected_root
    except ProofError:
        return False


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: whether ``proof`` shows the tree of ``old`` leaves with root
    ``old_root`` is a prefix of the tree of ``new`` leaves with root ``new_root``."""
    if not 0 <= old <= new:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
