"""Issue 6's periodic jobs: each body run directly (``call_local``), the escalation e-mail
through the queue to a real SMTP server (aiosmtpd), once through a real `tipline worker`."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tipline import create_app
from tipline.audit.checkpoints import new_signing_key
from tipline.audit.models import AuditEvent
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.jobs import jobs_for
from tipline.tips.models import Tip, TipPriority, TipStatus
from tipline.triage.models import Escalation

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
        "escalation_sweep",
        "stale_claims",
        "tip_retention",
        "notice_details_retention",
        "audit_checkpoint",
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
