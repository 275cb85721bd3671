"""The stored Merkle tree over the audit events: built as events are recorded, on SQLite and
PostgreSQL, with the same root and proofs as the tree computed from scratch."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sqla_event
from sqlalchemy import func, select, text

from tipline import audit, create_app, db, migrations
from tipline.audit import heads, merkle, tree, tree_verify
from tipline.audit.checkpoints import load_signing_key, new_signing_key
from tipline.audit.models import AuditEvent, AuditTreeNode

from ..conftest import SECRET, as_dba


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


def _tree_reads(engine) -> list[str]:
    seen: list[str] = []

    def before(_conn, _cursor, statement, *_args):
        if statement.startswith("SELECT") and "FROM audit_tree_node" in statement:
            seen.append(statement)

    sqla_event.listen(engine, "before_cursor_execute", before)
    return seen


def test_appends_from_two_servers_and_a_rollback_build_the_same_tree(
    database_url, app, session, tmp_path
):
    """Each process remembers the tree's right edge as it last wrote it. Another server's
    appends and a rolled-back event in between must make it read back what it needs, not
    reuse a stale edge; consecutive appends of its own read nothing."""
    other = create_app(
        {"SECRET_KEY": SECRET, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    )
    try:
        reads = _tree_reads(app.extensions["tipline.engine"])
        with other.extensions["tipline.sessionmaker"]() as elsewhere:
            _record(session, 7)  # leaves 0..6; leaf 7 closes subtrees at levels 0, 1 and 2
            assert reads == []
            _record(elsewhere, 1, start=7)  # the other server writes leaf 7
            audit.record(session, audit.SYSTEM, "test.event", "thing", 99)  # leaf 8, undone
            session.rollback()
            _record(elsewhere, 1, start=8)  # leaf 8, written elsewhere
            _record(session, 3, start=9)  # leaves 9..11: the first needs leaf 8, read back
            assert len(reads) == 1
            _record(session, 3, start=12)  # leaves 12..14 pair only with nodes it wrote
            assert len(reads) == 1
            _record(session, 1, start=15)  # leaf 15 closes the level-3 node over 0..7,
            assert len(reads) == 2  # which the other server wrote: that node alone is read
            assert reads[1].count("level =") == 1
        leaves = _leaves_from_events(session)
        assert len(leaves) == 16
        stored = {(n.level, n.index): n.hash for n in session.scalars(select(AuditTreeNode))}
        assert stored == {
            (r["level"], r["idx"]): r["hash"] for r in tree.levels_from_leaves(leaves)
        }
    finally:
        other.extensions["tipline.engine"].dispose()


def test_revision_0806_makes_existing_events_the_first_leaves(database_url, app):
    """Events written before the tree existed are backfilled with the frozen leaf encoding,
    which must equal the live one."""
    engine = app.extensions["tipline.engine"]
    cfg = migrations.alembic_config(engine)
    from alembic import command

    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0804")
    with app.extensions["tipline.sessionmaker"]() as session:
        # The schema before revision 0806 has no tree: write events without it.
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


# --- `tipline audit verify`: the tree against the chain, and every signed head --------------


@pytest.fixture
def signing_key(app):
    new_signing_key(app.config["AUDIT_SIGNING_KEY_FILE"])
    return load_signing_key(app.config["AUDIT_SIGNING_KEY_FILE"])


def _check(app, session, key):
    session.rollback()  # a fresh snapshot, after the insider's changes
    found = tree_verify.verify_tree(session, key.public_key(), heads.log_origin(app.config))
    session.rollback()  # and no stale read left open before the next write (SQLite)
    return found


def _as_owner(app, *statements):
    """Run ``statements`` with the append-only triggers out of the way (the insider)."""
    with as_dba(app) as conn:
        for statement, params in statements:
            conn.execute(text(statement), params)


def test_verify_passes_an_intact_tree_and_its_heads(app, runner, session, signing_key):
    _record(session, 9)
    heads.sign_tree_head(session, signing_key, heads.log_origin(app.config))
    _record(session, 4, start=9)
    heads.sign_tree_head(session, signing_key, heads.log_origin(app.config))
    session.commit()
    found = _check(app, session, signing_key)
    assert found.ok and (found.leaves, found.heads) == (13, 2)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Merkle tree: 13 leaves checked, 2 signed tree heads." in result.output


def test_verify_names_a_changed_leaf_or_subtree(app, runner, session, signing_key):
    _record(session, 8)
    _as_owner(
        app,
        ("UPDATE audit_tree_node SET hash = :h WHERE level = 0 AND idx = 5", {"h": b"x" * 32}),
    )
    found = _check(app, session, signing_key)
    assert "node at level 0, index 5 (the leaf of sequence 6) differs" in found.problem
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "the leaf of sequence 6" in result.output


def test_verify_finds_missing_and_extra_nodes(app, session, signing_key):
    _record(session, 4)
    _as_owner(app, ("DELETE FROM audit_tree_node WHERE level = 1 AND idx = 1", {}))
    assert "lacks its node at level 1, index 1" in _check(app, session, signing_key).problem
    _as_owner(
        app,
        ("INSERT INTO audit_tree_node (level, idx, hash) VALUES (1, 1, :h)", {"h": b"y" * 32}),
        ("INSERT INTO audit_tree_node (level, idx, hash) VALUES (0, 4, :h)", {"h": b"z" * 32}),
    )
    found = _check(app, session, signing_key).problem
    assert "node (level 0, index 4) that no event accounts for" in found


def test_verify_refuses_a_head_the_tree_no_longer_matches(app, session, signing_key):
    """An insider rewrote an event, the chain and the tree, but an old head still says
    otherwise (the same holds for a head a witness kept)."""
    _record(session, 6)
    heads.sign_tree_head(session, signing_key, heads.log_origin(app.config))
    session.commit()
    leaves = _leaves_from_events(session)
    leaves[2] = merkle.leaf_hash(b"rewritten")
    _as_owner(
        app,
        ("DELETE FROM audit_tree_node", {}),
        *[
            ("INSERT INTO audit_tree_node (level, idx, hash) VALUES (:level, :idx, :hash)", r)
            for r in tree.levels_from_leaves(leaves)
        ],
    )
    # The tree no longer matches the events...
    assert "leaf of sequence 3" in _check(app, session, signing_key).problem


def test_verify_refuses_a_head_signed_by_another_key(app, session, signing_key):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _record(session, 5)
    heads.sign_tree_head(session, signing_key, heads.log_origin(app.config))
    other = heads.sign_tree_head(
        session, Ed25519PrivateKey.generate(), heads.log_origin(app.config)
    )
    session.commit()
    found = _check(app, session, signing_key)
    assert f"signed tree head {other.id}" in found.problem
    assert "no signature by the pinned key" in found.problem


def test_verify_refuses_heads_that_go_back(app, session, signing_key):
    _record(session, 5)
    head = heads.sign_tree_head(session, signing_key, heads.log_origin(app.config))
    session.commit()
    _record(session, 3, start=5)
    heads.sign_tree_head(session, signing_key, heads.log_origin(app.config))
    session.commit()
    # A head re-inserted after a larger one: the log was cut back.
    _as_owner(
        app,
        (
            "INSERT INTO audit_tree_head (tree_size, root_hash, signed_at, key_id, signature, "
            "note) VALUES (:s, :r, :t, :k, :g, :n)",
            {
                "s": head.tree_size,
                "r": head.root_hash,
                "t": head.signed_at,
                "k": head.key_id,
                "g": head.signature,
                "n": head.note,
            },
        ),
    )
    assert "fewer than the 8 of an earlier head" in _check(app, session, signing_key).problem


def test_verify_catches_a_head_covering_removed_events(app, session, signing_key):
    _record(session, 7)
    heads.sign_tree_head(session, signing_key, heads.log_origin(app.config))
    session.commit()
    _as_owner(
        app,
        ("DELETE FROM audit_event WHERE seq > 5", {}),
        ("DELETE FROM audit_tree_node", {}),
    )
    session.expire_all()
    leaves = _leaves_from_events(session)
    _as_owner(
        app,
        *[
            ("INSERT INTO audit_tree_node (level, idx, hash) VALUES (:level, :idx, :hash)", r)
            for r in tree.levels_from_leaves(leaves)
        ],
    )
    found = _check(app, session, signing_key).problem
    assert "vouches for 7 events but the log has 5" in found
