"""Writers take the audit chain's lock before any row lock, so a periodic job and a staff
request acting on the same tips finish one after the other instead of deadlocking.

The scenario: a detective's status change has written the tip (its row is locked) and is
about to audit it, when the stale-claims job starts returning two claims of the same
detective, the other one first. With the chain lock taken only at the audit, the job held it
and waited for the tip's row while the request held the row and waited for the lock, and
PostgreSQL failed one of them. On SQLite the request's IMMEDIATE transaction already keeps
the job out until it commits; the test runs there too.
"""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text, update

from tipline import db
from tipline.auth import services as auth
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.tips.models import Tip, TipStatus
from tipline.triage import escalation
from tipline.triage import services as triage

from ..triage_data import insert_tips

#: Advisory locks this connection holds (PostgreSQL).
HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")


def test_a_staff_action_and_the_stale_claims_job_on_the_same_tips_both_finish(
    app, session, make_staff
):
    detective = make_staff(Role.DETECTIVE, "det")
    long_ago = utcnow() - timedelta(hours=2)
    insert_tips(
        session,
        2,
        status=TipStatus.IN_REVIEW,
        claimed_by_id=detective.id,
        claimed_at=long_ago,
        received_at=long_ago,
    )
    first, second = session.scalars(select(Tip.public_ref).order_by(Tip.id)).all()
    maker = app.extensions["tipline.write_sessionmaker"]
    errors: list[BaseException] = []
    returned: list[list[str]] = []

    def job() -> None:
        try:
            with maker() as s:
                returned.append(escalation.return_stale_claims(s, utcnow(), 60))
                s.commit()
        except BaseException as error:  # reported below; a thread must not die silently
            errors.append(error)

    worker = threading.Thread(target=job)
    with maker() as request:
        paused = []

        def start_the_job_mid_action(*_args) -> None:
            if not paused:  # after the tip's row is written, before its audit event
                paused.append(True)
                worker.start()
                time.sleep(1.5)  # the job reaches the tips (PostgreSQL's deadlock check: 1 s)

        event.listen(request, "after_flush", start_the_job_mid_action)
        staff = request.get(type(detective), detective.id)
        tip = request.scalar(select(Tip).where(Tip.public_ref == second))
        triage.change_status(request, staff, tip, TipStatus.FORWARDED, "to the 2nd District")
        request.commit()
    worker.join(timeout=60)
    assert not errors, errors
    # The job waited for the action, saw the second tip worked just now, and kept it claimed.
    assert returned == [[first]]
    session.rollback()  # a new read transaction, after both commits
    status, holder = session.execute(
        select(Tip.status, Tip.claimed_by_id).where(Tip.public_ref == second)
    ).one()
    assert (status, holder) == (TipStatus.FORWARDED, detective.id)


def test_on_postgresql_a_write_takes_the_chain_lock_and_a_read_does_not(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's request transactions begin IMMEDIATE: the write lock, up front")
    maker = app.extensions["tipline.write_sessionmaker"]
    with maker() as s:
        s.execute(select(Tip.id)).all()
        assert s.scalar(HELD) == 0
        s.execute(update(Tip).where(Tip.id == -1).values(narrative=""))  # matches no row
        assert s.scalar(HELD) == 1
        assert s.connection().info.get(db.HOLDS_CHAIN_LOCK)
        s.rollback()
        s.execute(select(Tip.id)).all()  # a new transaction starts without it
        assert s.scalar(HELD) == 0


def test_on_postgresql_a_data_modifying_with_takes_the_chain_lock_first(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's request transactions begin IMMEDIATE: the write lock, up front")
    maker = app.extensions["tipline.write_sessionmaker"]
    with maker() as s:
        s.execute(text("WITH t AS (SELECT id FROM tip) SELECT count(*) FROM t")).all()
        assert s.scalar(HELD) == 0
        s.execute(
            text(
                "WITH gone AS (UPDATE tip SET narrative = '' WHERE id = -1 RETURNING id) "
                "SELECT count(*) FROM gone"
            )
        ).all()
        assert s.scalar(HELD) == 1
        s.rollback()


def test_a_sign_in_checks_the_password_before_it_takes_the_writers_lock(
    app, database_url, make_staff, monkeypatch
):
    """The password hash takes a tenth of a second on purpose; a spray of sign-ins holding
    the writers' lock meanwhile would keep tips waiting."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's request transactions begin IMMEDIATE: the write lock, up front")
    make_staff(Role.DETECTIVE, "det")
    seen: list[int] = []
    with app.extensions["tipline.write_sessionmaker"]() as s:
        real_verify = auth._verify

        def verify(password_hash: str, password: str) -> bool:
            seen.append(s.scalar(HELD))
            return real_verify(password_hash, password)

        monkeypatch.setattr(auth, "_verify", verify)
        keys = auth.SignInKeys.from_config(app.config)
        assert auth.sign_in(s, "det", "not the password", "", keys).outcome == "failed"
        assert seen == [0]  # not while hashing
        assert s.scalar(HELD) == 1  # but while counting the failure and auditing it
        s.rollback()


def test_the_benchmarks_minimal_engine_can_go_without_the_writers_lock(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the writers' lock is PostgreSQL's; SQLite's engine has none to leave out")
    for writers_lock, expected in ((True, 1), (False, 0)):
        engine = db.make_engine(database_url, writers_lock=writers_lock)
        try:
            with engine.begin() as conn:
                conn.execute(update(Tip).where(Tip.id == -1).values(narrative=""))
                assert conn.scalar(HELD) == expected
        finally:
            engine.dispose()


def test_a_reassignment_racing_an_action_refuses_the_old_holders_action(app, session, make_staff):
    """A supervisor's reassignment is being committed while the old holder's status change
    arrives: the action reads the tip under the writers' lock, so it waits for the
    reassignment and is refused, instead of passing a stale "you hold the claim" check."""
    old = make_staff(Role.DETECTIVE, "det-old")
    new = make_staff(Role.DETECTIVE, "det-new")
    sup = make_staff(Role.SUPERVISOR, "sup")
    insert_tips(session, 1, status=TipStatus.IN_REVIEW, claimed_by_id=old.id)
    ref = session.scalar(select(Tip.public_ref))
    session.commit()
    maker = app.extensions["tipline.write_sessionmaker"]
    outcome: list[object] = []
    reading = threading.Event()

    def old_holders_action() -> None:
        try:
            with maker() as s:
                me = s.get(type(old), old.id)
                reading.set()
                tip = triage.tip_to_work(s, me, ref)  # waits for the reassignment
                try:
                    triage.change_status(s, me, tip, TipStatus.ACTIONABLE)
                    s.commit()
                    outcome.append("done")
                except triage.NotAllowed as refused:
                    s.rollback()
                    outcome.append(refused)
        except BaseException as error:
            outcome.append(error)

    with maker() as reassigning:
        db.hold_chain_lock(reassigning.connection())  # the reassignment's transaction
        tip = reassigning.scalar(select(Tip).where(Tip.public_ref == ref))
        worker = threading.Thread(target=old_holders_action)
        worker.start()
        reading.wait(5)
        time.sleep(0.3)  # the action is now waiting for the lock (or, on SQLite, the file)
        triage.reassign_tip(
            reassigning,
            reassigning.get(type(sup), sup.id),
            tip,
            reassigning.get(type(new), new.id),
            "Shift change",
        )
        reassigning.commit()
    worker.join(20)
    assert len(outcome) == 1 and isinstance(outcome[0], triage.NotAllowed), outcome
    session.expire_all()
    tip = session.scalar(select(Tip).where(Tip.public_ref == ref))
    assert tip.claimed_by_id == new.id and tip.status is TipStatus.IN_REVIEW
