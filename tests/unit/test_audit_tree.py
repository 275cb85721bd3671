"""The stored Merkle tree over the audit events: built as events are recorded, on SQLite and
PostgreSQL, with the same root and proofs as the tree computed from scratch."""

from __future__ import annotations

from sqlalchemy import func, select, text

from tipline import audit, db, migrations
from tipline.audit import merkle, tree
from tipline.audit.models import AuditEvent, AuditTreeNode


def _record(session, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        audit.record(session, audit.SYSTEM, "test.event", "thing", i, n=i, note="ü")
    session.commit()


def _leaves_from_events(session) -> list[bytes]:
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
    return [tree.leaf_hash_of(e) for e in events]


def test_every_recorded_event_is_a_leaf_and_the_stored_tree_matches_a_rebuild(session):
    for size in (1, 2, 3, 5, 8, 13):
        _record(session, size - tree.size(session), start=tree.size(session))
        leaves = _leaves_from_events(session)
        assert tree.size(session) == len(leaves) == size
        assert tree.root(session, size) == merkle.root(leaves)
    stored = {(n.level, n.index): n.hash for n in session.scalars(select(AuditTreeNode))}
    rebuilt = {(r["level"], r["idx"]): r["hash"] for r in tree.levels_from_leaves(leaves)}
    assert stored == rebuilt  # each complete subtree once, nothing else
    assert len(stored) == 13 + 6 + 3 + 1


def test_stored_proofs_equal_the_computed_ones_and_verify(session):
    _record(session, 21)
    leaves = _leaves_from_events(session)
    for n in (1, 7, 8, 16, 21):
        r = tree.root(session, n)
        for i in range(n):
            proof = tree.inclusion_proof(session, i, n)
            assert proof == merkle.inclusion_proof(i, leaves[:n])
            assert merkle.verify_inclusion(i, n, leaves[i], proof, r)
        for m in range(n + 1):
            proof = tree.consistency_proof(session, m, n)
            assert proof == merkle.consistency_proof(m, leaves[:n])
            assert merkle.verify_consistency(m, n, tree.root(session, m), r, proof)


def test_a_leaf_is_found_by_its_hash(session):
    _record(session, 4)
    leaves = _leaves_from_events(session)
    assert tree.leaf_index(session, leaves[2]) == 2
    assert tree.leaf_hash(session, 2) == leaves[2]
    assert tree.leaf_index(session, merkle.leaf_hash(b"nothing")) is None


def test_leaf_commits_to_every_field_of_the_event(session):
    event = audit.record(session, audit.SYSTEM, "test.event", "thing", 1, n=1)
    session.commit()
    original = tree.leaf_hash_of(event)
    for field, value in [
        ("action", "test.other"),
        ("object_id", "2"),
        ("details", {"n": 2}),
        ("actor_label", "public"),
        ("row_hash", "0" * 64),
    ]:
        changed = {c: getattr(event, c) for c in [col.name for col in AuditEvent.__table__.columns]}
        changed[field] = value
        row = type("Row", (), changed)
        assert tree.leaf_hash_of(row) != original, field


def test_rolled_back_event_leaves_no_node(session):
    _record(session, 3)
    audit.record(session, audit.SYSTEM, "test.event", "thing", 9)
    session.rollback()
    assert tree.size(session) == 3
    _record(session, 1, start=3)
    assert tree.root(session, 4) == merkle.root(_leaves_from_events(session))


def test_revision_0806_makes_existing_events_the_first_leaves(database_url, app):
    """Events written before the tree existed are backfilled with the frozen leaf encoding,
    which must equal the live one."""
    engine = app.extensions["tipline.engine"]
    cfg = migrations.alembic_config(engine)
    from alembic import command

    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0605")
    with app.extensions["tipline.sessionmaker"]() as session:
        # Revision 0605's schema has no tree: write events without it.
        for i in range(11):
            key = session.info["audit_key"]
            head = session.execute(
                select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc())
            ).first()
            seq, prev = (head.seq + 1, head.row_hash) if head else (1, "0" * 64)
            event = AuditEvent(
                seq=seq,
                occurred_at=db.utcnow(),
                actor_id=None,
                actor_label="system",
                action="test.old",
                object_type="thing",
                object_id=str(i),
                details={"i": i, "text": "é"},
                prev_hash=prev,
            )
            event.row_hash = audit.services.hash_of(key, event)
            session.execute(AuditEvent.__table__.insert(), [_columns(event)])
        session.commit()
    migrations.upgrade(engine)
    with app.extensions["tipline.sessionmaker"]() as session:
        leaves = _leaves_from_events(session)
        assert tree.size(session) == 11
        assert tree.root(session, 11) == merkle.root(leaves)
        count = session.scalar(select(func.count()).select_from(AuditTreeNode))
        assert count == 11 + 5 + 2 + 1
        # And the tree goes on growing from there.
        audit.record(session, audit.SYSTEM, "test.new", "thing", 12)
        session.commit()
        assert tree.root(session, 12) == merkle.root(_leaves_from_events(session))
        with session.connection() as conn:
            assert conn.scalar(text("SELECT count(*) FROM audit_tree_node")) == 12 + 6 + 3 + 1


def _columns(event: AuditEvent) -> dict:
    names = [col.name for col in AuditEvent.__table__.columns]
    return {c: getattr(event, c) for c in names if c != "id"}
