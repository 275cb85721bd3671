"""RFC 9162 tree hashes and proofs against published test vectors.

The vectors are those of transparency-dev/merkle (``proof/verify_test.go``; the same set is in
Google's certificate-transparency-go and Trillian): eight leaves, the root of every prefix,
and inclusion and consistency proofs. Inclusion vectors there number leaves from 1.
"""

from __future__ import annotations

import hashlib

import pytest

from tipline.audit import merkle

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# (leaf number from 1, tree size, proof)
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
LEAF_HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def _hashes(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def test_empty_tree_hash_is_sha256_of_nothing():
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_leaf_and_node_hashes_are_domain_separated():
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        merkle.node_hash(b"a" * 32, b"b" * 32)
        == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_every_prefix_matches_the_vectors(size):
    assert merkle.root(LEAF_HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("number", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_vectors_and_verify(number, size, proof):
    expected = _hashes(proof)
    assert merkle.inclusion_proof(number - 1, LEAF_HASHES[:size]) == expected
    assert merkle.verify_inclusion(
        number - 1, size, LEAF_HASHES[number - 1], expected, ROOTS[size - 1]
    )


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors_and_verify(old, new, proof):
    expected = _hashes(proof)
    assert merkle.consistency_proof(old, LEAF_HASHES[:new]) == expected
    assert merkle.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], expected)


@pytest.mark.parametrize(("number", "size", "proof"), INCLUSION[1:])
def test_corrupted_inclusion_proofs_are_refused(number, size, proof):
    good = _hashes(proof)
    index, leaf, root = number - 1, LEAF_HASHES[number - 1], ROOTS[size - 1]
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [
        (index - 1, size, leaf, good, root),
        (index + 1, size, leaf, good, root),
        (index ^ 2, size, leaf, good, root),
        (index, size * 2, leaf, good, root),
        (index, size // 2, leaf, good, root),
        (index, size, merkle.leaf_hash(b"WrongLeaf"), good, root),
        (index, size, leaf, good, merkle.EMPTY_ROOT),
        (index, size, leaf, good, some),
        (index, size, leaf, [*good, b""], root),
        (index, size, leaf, [*good, root], root),
        (index, size, leaf, [b"", *good], root),
        (index, size, leaf, [root, *good], root),
        (index, size, leaf, good[:-1], root),
    ]
    for i in range(len(good)):
        flipped = list(good)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, leaf, flipped, root))
    if len(good) > 1:
        probes.append((index, size, leaf, [good[0], some, *good[1:]], root))
    for probe in probes:
        assert not merkle.verify_inclusion(*probe), probe


@pytest.mark.parametrize(("old", "new", "proof"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_are_refused(old, new, proof):
    good = _hashes(proof)
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, good),
        (old + 1, new, r1, r2, good),
        (old ^ 2, new, r1, r2, good),
        (old, new * 2, r1, r2, good),
        (old, new // 2, r1, r2, good),
        (old, new, merkle.leaf_hash(b"WrongRoot"), r2, good),
        (old, new, r1, merkle.leaf_hash(b"WrongRoot"), good),
        (old, new, r2, r1, good),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*good, b""]),
        (old, new, r1, r2, [*good, r1]),
        (old, new, r1, r2, [*good, r2]),
        (old, new, r1, r2, [b"", *good]),
        (old, new, r1, r2, [r1, *good]),
        (old, new, r1, r2, [r2, *good]),
        (old, new, r1, r2, [good[0], *good]),
        (old, new, r1, r2, good[:-1]),
    ]
    for i in range(len(good)):
        flipped = list(good)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((old, new, r1, r2, flipped))
    for probe in probes:
        assert not merkle.verify_consistency(*probe), probe[:2]


def test_trivial_consistency_cases_follow_the_reference_verifier():
    a, b = merkle.leaf_hash(b"1"), merkle.leaf_hash(b"2")
    assert merkle.verify_consistency(0, 0, a, a, [])
    assert merkle.verify_consistency(0, 1, a, b, [])
    assert merkle.verify_consistency(1, 1, b, b, [])
    assert not merkle.verify_consistency(1, 1, a, b, [])
    assert not merkle.verify_consistency(1, 0, a, b, [])
    assert not merkle.verify_consistency(2, 1, a, b, [])
    assert not merkle.verify_consistency(1, 2, a, b, [])
    assert not merkle.verify_consistency(1, 1, a, a, [merkle.EMPTY_ROOT])


def test_every_proof_of_a_larger_tree_verifies_and_stays_logarithmic():
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(70)]
    roots = [merkle.root(leaves[:n]) for n in range(71)]
    for n in range(1, 71):
        for i in range(n):
            proof = merkle.inclusion_proof(i, leaves[:n])
            assert len(proof) <= (n - 1).bit_length()
            assert merkle.verify_inclusion(i, n, leaves[i], proof, roots[n])
        for m in range(0, n + 1):
            proof = merkle.consistency_proof(m, leaves[:n])
            assert len(proof) <= 2 * n.bit_length()
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)


def test_complete_subtrees_fold_to_the_subtree_hash():
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(13)]
    # The right edge of a 13-leaf tree from leaf 8: an 4-leaf and a 1-leaf subtree.
    assert merkle.complete_subtrees(8, 13) == [(2, 2), (0, 12)]
    hashes = [merkle.root(leaves[8:12]), leaves[12]]
    assert merkle.fold(hashes) == merkle.root(leaves[8:13])
