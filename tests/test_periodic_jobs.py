"""The periodic jobs: each body run directly (``call_local``), the escalation e-mail
through the queue to a real SMTP server (aiosmtpd), once through a real `tipline worker`."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tipline import create_app
from tipline import jobs as jobs_module
from tipline.audit.checkpoints import new_signing_key
from tipline.audit.models import AuditEvent
from tipline.auth import services as auth
from tipline.auth.models import LoginThrottle, Role
from tipline.db import utcnow
from tipline.jobs import jobs_for
from tipline.tips import dialog
from tipline.tips import services as tips
from tipline.tips.models import ReceiptSession, Tip, TipPriority, TipStatus, TipSubmission
from tipline.tips.receipts import receipt_key
from tipline.triage.models import Escalation, NoticeFollow

from .conftest import PASSWORD, publish_new_notice
from .test_jobs import mail_config, run_worker_until, smtp, worker_env  # noqa: F401 - smtp is a fixture
from .triage_data import insert_tips

SUPERVISORS = ["duty-sgt@example.org", "lt@example.org"]


@pytest.fixture
def jobs_app(database_url, tmp_path, smtp):  # noqa: F811 - the fixture imported above
    _inbox, port = smtp
    app = create_app(
        mail_config(
            database_url,
            tmp_path / "i",
            port,
            HUEY_IMMEDIATE=True,
            SUPERVISOR_EMAILS=SUPERVISORS,
            STALE_CLAIM_MINUTES=60,
            TIP_RETENTION_DAYS=30,
        )
    )
    yield app
    app.extensions["tipline.engine"].dispose()


def overdue_tip(app, narrative="She drives a green Buick"):
    past = utcnow() - timedelta(hours=1)
    with app.extensions["tipline.sessionmaker"]() as session:
        insert_tips(
            session,
            1,
            narrative=narrative,
            received_at=past - timedelta(minutes=15),
            due_at=past,
            priority=TipPriority.URGENT,
            priority_rank=0,
        )
        return session.scalar(select(Tip))


def count(app, query):
    with app.extensions["tipline.sessionmaker"]() as session:
        return session.scalar(query)


def test_every_periodic_task_is_registered(jobs_app):
    names = {t.name for t in jobs_for(jobs_app).huey._registry.periodic_tasks}
    assert names == {
        "deliver_outbox",
        "catch_up",
        "escalation_sweep",
        "stale_claims",
        "tip_retention",
        "notice_details_retention",
        "audit_checkpoint",
        "housekeeping",
        "reward_expiry",
    }


def test_sweep_escalates_once_and_mails_each_supervisor_a_link(jobs_app, smtp):  # noqa: F811
    inbox, _port = smtp
    tip = overdue_tip(jobs_app)
    jobs = jobs_for(jobs_app)
    assert len(jobs.escalation_sweep.call_local()) == 1
    assert jobs.escalation_sweep.call_local() == []  # the same breach: nothing new
    messages = inbox.wait_for(2, 10)
    assert sorted(m["To"] for m in messages) == sorted(SUPERVISORS)
    for message in messages:
        body = message.get_content()
        assert f"https://tips.example.org/staff/tips/{tip.public_ref}" in body
        assert "Buick" not in message.as_string()
    assert count(jobs_app, select(func.count()).select_from(Escalation)) == 1


def test_stale_claim_task_returns_the_claim(jobs_app, make_staff):
    detective = make_staff(Role.DETECTIVE, "det")
    with jobs_app.extensions["tipline.sessionmaker"]() as session:
        insert_tips(
            session,
            1,
            status=TipStatus.IN_REVIEW,
            claimed_by_id=detective.id,
            claimed_at=utcnow() - timedelta(minutes=61),
        )
        ref = session.scalar(select(Tip.public_ref))
    assert jobs_for(jobs_app).stale_claims.call_local() == [ref]
    assert count(jobs_app, select(Tip.claimed_by_id)) is None


def test_retention_task_purges_old_closed_tips_only(jobs_app):
    old = utcnow() - timedelta(days=31)
    with jobs_app.extensions["tipline.sessionmaker"]() as session:
        insert_tips(session, 1, narrative="closed", status=TipStatus.CLOSED, closed_at=old)
        insert_tips(session, 1, narrative="open", status=TipStatus.NEW)
    [purged] = jobs_for(jobs_app).tip_retention.call_local()
    with jobs_app.extensions["tipline.sessionmaker"]() as session:
        narratives = session.scalars(select(Tip.narrative).order_by(Tip.id)).all()
    assert narratives == ["", "open #0"]  # the closed tip's text is gone, the open one stays
    assert (
        count(
            jobs_app,
            select(func.count()).where(
                AuditEvent.action == "tip.purged", AuditEvent.object_id == purged
            ),
        )
        == 1
    )


def test_notice_retention_and_checkpoint_tasks_run(jobs_app):
    jobs = jobs_for(jobs_app)
    assert jobs.notice_details_retention.call_local() == []
    new_signing_key(jobs_app.config["AUDIT_SIGNING_KEY_FILE"])
    seq = jobs.audit_checkpoint.call_local()
    lines = Path(jobs_app.config["AUDIT_CHECKPOINT_FILE"]).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["seq"] == seq


def test_housekeeping_removes_only_what_outlived_its_use(jobs_app, monkeypatch):
    monkeypatch.setattr(jobs_module.tasks, "HOUSEKEEPING_BATCH", 2)  # several batches per kind
    key = receipt_key(jobs_app.secret_key)
    data_key = jobs_app.config["DATA_KEY"]
    now = utcnow()
    with jobs_app.extensions["tipline.sessionmaker"]() as session:
        sent = {}
        for token in ("old-form-token-aaaaaaaaaaaa", "new-form-token-bbbbbbbbbbbb"):
            tip, code = tips.submit_tip(
                session,
                tips.TipReport("seen at the corner"),
                key,
                form_token=token,
                data_key=data_key,
            )
            sent[token] = (tip, code)
        session.flush()
        old_tip = sent["old-form-token-aaaaaaaaaaaa"][0]
        session.execute(
            TipSubmission.__table__.update()
            .where(TipSubmission.tip_id == old_tip.id)
            .values(created_at=now - timedelta(minutes=31))
        )
        for _tip, code in sent.values():
            dialog.open_receipt(session, key, code, minutes=30)
        for n in range(3):  # three visits that ended long ago
            session.add(
                ReceiptSession(token_hash=bytes([n]) * 32, tip_id=old_tip.id, expires_at=now)
            )
        window_over = now - timedelta(minutes=2)
        for n in range(5):  # a spray of made-up names, a minute gone
            session.add(LoginThrottle(name_hash=bytes([n]) * 32, window_started_at=window_over))
        session.add(
            LoginThrottle(
                name_hash=b"L" * 32,
                window_started_at=window_over,
                locked_until=now + timedelta(minutes=10),
            )
        )
        session.add(LoginThrottle(name_hash=b"W" * 32, window_started_at=now, failures=3))
        # Follows: one never confirmed and lapsed (goes), one waiting, one confirmed (stay).
        notice = publish_new_notice(session)
        for n, (confirmed, lapses) in enumerate(
            [(None, now - timedelta(minutes=1)), (None, now + timedelta(hours=1)), (now, None)]
        ):
            user = auth.create_user(session, f"follower{n}", PASSWORD, Role.DETECTIVE, "test")
            session.add(
                NoticeFollow(
                    staff_id=user.id,
                    notice_id=notice.id,
                    email=f"f{n}@example.org",
                    confirmed_at=confirmed,
                    confirm_expires_at=lapses,
                )
            )
        session.commit()

    counts = jobs_for(jobs_app).housekeeping.call_local()
    assert counts == {
        "receipt_sessions": 3,
        "receipt_codes": 1,
        "login_throttles": 5,
        "staff_drafts": 0,
        "unconfirmed_follows": 1,
    }

    with jobs_app.extensions["tipline.sessionmaker"]() as session:
        assert session.scalar(select(func.count()).select_from(ReceiptSession)) == 2  # live ones
        held = dict(session.execute(select(TipSubmission.tip_id, TipSubmission.sealed_code)).all())
        assert held[old_tip.id] is None and held[sent["new-form-token-bbbbbbbbbbbb"][0].id]
        kept = set(session.scalars(select(LoginThrottle.name_hash)))
        assert kept == {b"L" * 32, b"W" * 32}  # the lockout and the open window
        left = set(session.scalars(select(NoticeFollow.email)))
        assert left == {"f1@example.org", "f2@example.org"}
        # The old form sent again is still one tip: "already received", without its code.
        with pytest.raises(tips.AlreadyReceived) as again:
            tips.submit_tip(
                session,
                tips.TipReport("seen at the corner"),
                key,
                form_token="old-form-token-aaaaaaaaaaaa",
                data_key=data_key,
            )
        assert again.value.tip.id == old_tip.id and again.value.code is None
        session.rollback()
        events = session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "system.housekeeping")
        ).all()
    assert events == [
        {
            "receipt_sessions": 3,
            "receipt_codes": 1,
            "login_throttles": 5,
            "staff_drafts": 0,
            "unconfirmed_follows": 1,
        }
    ]

    assert jobs_for(jobs_app).housekeeping.call_local() == dict.fromkeys(counts, 0)
    assert (
        count(jobs_app, select(func.count()).where(AuditEvent.action == "system.housekeeping")) == 1
    )  # nothing went: no second event


@pytest.mark.slow
def test_a_real_worker_sends_the_escalation_mail(database_url, tmp_path, smtp):  # noqa: F811
    """The sweep commits and only enqueues; a separate `tipline worker` sends the e-mail."""
    inbox, port = smtp
    instance = tmp_path / "instance"
    app = create_app(mail_config(database_url, instance, port, SUPERVISOR_EMAILS=SUPERVISORS[:1]))
    overdue_tip(app)
    assert len(jobs_for(app).escalation_sweep.call_local()) == 1
    assert inbox.messages == [] and len(jobs_for(app).huey) == 1
    env = worker_env(
        database_url, instance, port, TIPLINE_SUPERVISOR_EMAILS=json.dumps(SUPERVISORS[:1])
    )
    messages, output = run_worker_until(inbox, 1, env)
    assert len(messages) == 1, output
    assert messages[0]["To"] == SUPERVISORS[0]
    app.extensions["tipline.engine"].dispose()
