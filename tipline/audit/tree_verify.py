"""`tipline audit verify`'s check of the Merkle tree and the signed tree heads.

Apart from the chain walk (``tipline.audit.verify``) so that each can change alone: the
stored tree must be exactly the tree of the events' leaf hashes (no node missing, extra or
different), and every stored head must carry a good signature by the audit signing key over
the root of the tree at its size, with sizes that never go back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import zip_longest

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.audit import merkle, notes, tree
from tipline.audit.models import AuditEvent, AuditTreeHead, AuditTreeNode
from tipline.audit.verify import EVENT_COLUMNS


@dataclass
class TreeReport:
    leaves: int = 0
    heads: int = 0
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_tree(session: Session, public_key: Ed25519PublicKey | None, origin: str) -> TreeReport:
    """Check the stored tree against the events, then every stored head against the tree."""
    report = TreeReport()
    levels = _expected_levels(session)
    report.leaves = len(levels[0]) if levels else 0
    report.problem = _compare_nodes(session, levels)
    if report.problem is None:
        _check_heads(session, report, levels, public_key, origin)
    return report


def _expected_levels(session: Session) -> list[list[bytes]]:
    """Every level of the tree of the events' leaf hashes, as recomputed from the events."""
    events = session.execute(select(*EVENT_COLUMNS).order_by(AuditEvent.seq)).yield_per(1000)
    current = [tree.leaf_hash_of(e) for e in events]
    levels = []
    while current:
        levels.append(current)
        current = [
            merkle.node_hash(current[i], current[i + 1]) for i in range(0, len(current) - 1, 2)
        ]
    return levels


def _compare_nodes(session: Session, levels: list[list[bytes]]) -> str | None:
    stored = session.execute(
        select(AuditTreeNode.level, AuditTreeNode.index, AuditTreeNode.hash).order_by(
            AuditTreeNode.level, AuditTreeNode.index
        )
    ).yield_per(5000)
    expected = ((level, i, h) for level, hashes in enumerate(levels) for i, h in enumerate(hashes))
    for want, got in zip_longest(expected, stored):
        if want is None or (got is not None and (got.level, got.index) < want[:2]):
            return (
                f"the Merkle tree has a node (level {got.level}, index {got.index}) that no "
                "event accounts for: leaves were added without events, or events removed."
            )
        level, index, digest = want
        if got is None or (got.level, got.index) != (level, index):
            return (
                f"the Merkle tree lacks its node at level {level}, index {index} "
                f"(leaf of sequence {index + 1})."
                if level == 0
                else f"the Merkle tree lacks its node at level {level}, index {index}."
            )
        if bytes(got.hash) != digest:
            what = f"the leaf of sequence {index + 1}" if level == 0 else "a subtree"
            return (
                f"the Merkle tree's node at level {level}, index {index} ({what}) differs "
                "from the events: the event or the tree was changed."
            )
    return None


def _root(levels: list[list[bytes]], size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.fold([levels[lv][i] for lv, i in merkle.complete_subtrees(0, size)])


def _check_heads(
    session: Session,
    report: TreeReport,
    levels: list[list[bytes]],
    public_key: Ed25519PublicKey | None,
    origin: str,
) -> None:
    stored = session.scalars(select(AuditTreeHead).order_by(AuditTreeHead.id)).all()
    if not stored:
        report.notes.append(
            "No signed tree heads yet: outside witnesses have nothing to check until "
            "`tipline audit sign-tree-head` (or the periodic job) has run."
        )
        return
    if public_key is None:
        report.problem = "there are signed tree heads but no signing key to check them with."
        return
    log = notes.verifier(origin, public_key)
    largest = 0
    for head in stored:
        report.heads += 1
        where = f"signed tree head {head.id} ({head.signed_at:%Y-%m-%d %H:%M} UTC)"
        try:
            checkpoint = notes.open_note(head.note, log)
        except notes.NoteError as error:
            report.problem = f"{where}: {error}"
            return
        if (checkpoint.size, checkpoint.root) != (head.tree_size, head.root_hash):
            report.problem = f"{where}: its columns differ from its signed note."
            return
        if head.tree_size < largest:
            report.problem = (
                f"{where} has {head.tree_size} events, fewer than the {largest} of an earlier "
                "head: the log was cut back."
            )
            return
        largest = head.tree_size
        if head.tree_size > report.leaves:
            report.problem = (
                f"{where} vouches for {head.tree_size} events but the log has "
                f"{report.leaves}: the newest events were removed."
            )
            return
        if _root(levels, head.tree_size) != head.root_hash:
            report.problem = (
                f"{where}: the tree of its {head.tree_size} events has another root: events "
                "it covers were changed after it was signed."
            )
            return
