"""The chain itself: links, keyed hashes, one transaction with the action, no forks."""

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from tipline import audit, migrations
from tipline.audit import chain
from tipline.audit import verify as audit_verify
from tipline.audit.models import AuditEvent
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import Tip

from ..conftest import csrf_token

KEY = receipts.receipt_key("k" * 40)


def _verify(app, session):
    return audit_verify.verify(
        session,
        session.info["audit_key"],
        app.config["AUDIT_CHECKPOINT_FILE"],
        app.config["AUDIT_SIGNING_KEY_FILE"],
    )


def test_each_event_links_to_the_one_before_under_the_configured_key(app, session):
    first = audit.record(session, audit.SYSTEM, "test.first", "thing", 1, n=1)
    second = audit.record(session, audit.SYSTEM, "test.second", "thing", 2, when=(1, 2))
    session.commit()
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == chain.GENESIS
    assert second.prev_hash == first.row_hash
    assert second.details == {"when": [1, 2]}  # stored as it reads back, so it re-hashes
    assert session.info["audit_key"] == chain.chain_key(app.config)
    assert audit.services.hash_of(session.info["audit_key"], second) == second.row_hash
    # Another key gives another hash: without the key no one can forge a row.
    assert audit.services.hash_of(b"x" * 32, second) != second.row_hash
    assert _verify(app, session).ok


def test_audit_key_setting_is_used_and_must_be_long():
    from tipline.config import SecretKeyError

    base = {"SECRET_KEY": "s" * 40}
    assert chain.chain_key(base) != chain.chain_key({**base, "AUDIT_KEY": "a" * 40})
    assert chain.chain_key({**base, "AUDIT_KEY": "a" * 40}) == b"a" * 40
    from tipline import create_app

    with pytest.raises(SecretKeyError, match="TIPLINE_AUDIT_KEY"):
        create_app({"SECRET_KEY": "s" * 40, "AUDIT_KEY": "short", "DATABASE_URL": "sqlite://"})


def test_received_events_equal_tips_and_verify_counts_both(app, session, published_notice):
    for n in range(3):
        tips.submit_tip(session, tips.TipReport(f"Seen {n}"), KEY, published_notice)
    session.commit()
    report = _verify(app, session)
    assert report.ok and (report.tips, report.received) == (3, 3)


@pytest.fixture
def audit_inserts_fail(app):
    """Make the database refuse new audit rows, as a full disk or a broken table would."""
    engine = app.extensions["tipline.engine"]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER audit_event_broken BEFORE INSERT ON audit_event "
                    "BEGIN SELECT RAISE(ABORT, 'audit store broken'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'audit store broken'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER audit_event_broken BEFORE INSERT ON audit_event "
                    "FOR EACH ROW EXECUTE FUNCTION audit_broken()"
                )
            )
    yield
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_event_broken"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_broken ON audit_event"))
            conn.execute(text("DROP FUNCTION audit_broken()"))


def test_when_the_audit_write_fails_the_tip_is_not_saved(session, audit_inserts_fail):
    with pytest.raises(SQLAlchemyError, match="audit store broken"):
        tips.submit_tip(session, tips.TipReport("Seen at the market"), KEY)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Tip)) == 0


def test_tipster_is_told_the_tip_was_not_saved_when_the_audit_write_fails(
    client, session, audit_inserts_fail
):
    token = csrf_token(client, "/tip")
    response = client.post("/tip", data={"csrf_token": token, "narrative": "At the ferry"})
    assert response.status_code == 503
    assert "At the ferry" in response.get_data(as_text=True)  # their words are kept
    assert session.scalar(select(func.count()).select_from(Tip)) == 0


def _write_concurrently(app, threads: int, each: int) -> list[BaseException]:
    """``threads`` writers, each in its own sessions, reading first and then recording."""
    make_session = app.extensions["tipline.write_sessionmaker"]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(number: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with make_session() as s:
                    s.scalar(select(func.count()).select_from(Tip))  # read, then write
                    audit.record(s, audit.SYSTEM, "test.concurrent", "writer", number, i=i)
                    s.commit()
        except BaseException as error:  # collected and asserted on below
            errors.append(error)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def test_concurrent_writers_keep_one_chain_without_gaps_or_forks(app, session):
    errors = _write_concurrently(app, threads=4, each=12)
    assert errors == []
    seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert seqs == list(range(1, 49))
    per_writer = session.execute(
        select(AuditEvent.object_id, func.count()).group_by(AuditEvent.object_id)
    ).all()
    assert sorted(per_writer) == [(str(n), 12) for n in range(4)]
    assert _verify(app, session).ok


def test_upgrade_chains_audit_rows_written_before_the_chain(app, tmp_path):
    from sqlalchemy import create_engine

    from tipline import db

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = db.make_engine(url)
    migrations.upgrade(engine, "0001")
    with engine.begin() as conn:
        for n in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_event (occurred_at, actor_label, action, object_type,"
                    " object_id, details) VALUES (:at, 'public',"
                    " 'tip.received', 'tip', :ref, '{\"there_now\": false}')"
                ),
                {"ref": f"ref{n}", "at": f"2026-01-0{n + 1} 10:00:00.000000"},
            )
    with pytest.raises(RuntimeError, match="tipline db upgrade"):
        migrations.upgrade(engine)  # no app, so no audit key: refused, nothing half-done
    with app.app_context():
        migrations.upgrade(engine)
    engine.dispose()
    plain = create_engine(url)
    with plain.connect() as conn:
        rows = conn.execute(text("SELECT seq, prev_hash FROM audit_event ORDER BY id")).all()
    plain.dispose()
    assert [r.seq for r in rows] == [1, 2, 3] and rows[0].prev_hash == chain.GENESIS
    engine = db.make_engine(url)
    from sqlalchemy.orm import Session

    with Session(engine, info={"audit_key": chain.chain_key(app.config)}) as s:
        report = audit_verify.verify(s, s.info["audit_key"], tmp_path / "none", tmp_path / "x")
    engine.dispose()
    assert report.ok is False  # three received events but no tips...
    assert report.problem.message.startswith("there are 0 tips but 3 tip.received")
    assert report.events == 3  # ...while the chain itself walked clean
