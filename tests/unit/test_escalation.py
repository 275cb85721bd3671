"""Clocks that escalate, with a frozen clock (``now`` passed in, no sleeping): an overdue tip
escalates exactly once per breach, even from two concurrent sweeps on PostgreSQL; a claim
nobody works goes back to the queue; both are audit events."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tipline import audit
from tipline.audit.models import AuditEvent
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import TipPriority, TipStatus
from tipline.triage import closures, escalation
from tipline.triage import services as triage
from tipline.triage.models import Escalation, EscalationKind

KEY = receipts.receipt_key("k" * 40)


def submit(session, text="Saw her by the bus stop", **kw):
    tip, _ = tips.submit_tip(session, tips.TipReport(text, **kw), KEY)
    session.commit()
    return tip


def escalations(session):
    return session.scalar(select(func.count()).select_from(Escalation))


def escalated_events(session):
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "tip.escalated")
    )


def test_an_overdue_unclaimed_tip_escalates_exactly_once(session):
    tip = submit(session, there_now=True)  # urgent: due in 15 minutes
    assert escalation.escalate_overdue(session, tip.due_at - timedelta(seconds=1)) == []
    [made] = escalation.escalate_overdue(session, tip.due_at + timedelta(minutes=1))
    session.commit()
    assert escalation.escalate_overdue(session, tip.due_at + timedelta(minutes=2)) == []
    assert escalation.escalate_overdue(session, tip.due_at + timedelta(hours=5)) == []
    session.commit()
    row = session.get(Escalation, made)
    assert row.kind is EscalationKind.UNCLAIMED and row.due_at == tip.due_at
    assert row.holder_id is None
    assert escalations(session) == 1 and escalated_events(session) == 1
    [event] = [
        e for e in audit.events_for(session, "tip", tip.public_ref) if e.action == "tip.escalated"
    ]
    assert event.actor_label == audit.SYSTEM and event.details["kind"] == "unclaimed"


def test_a_claimed_tip_nobody_works_escalates_and_one_worked_does_not(session, detective):
    idle = submit(session, "idle", there_now=True)
    worked = submit(session, "worked", there_now=True)
    triage.claim_tip(session, detective, idle)
    triage.claim_tip(session, detective, worked)
    triage.add_note(session, detective, worked, "Called the bar, she left")
    session.commit()
    made = escalation.escalate_overdue(session, idle.due_at + timedelta(minutes=1))
    session.commit()
    [row] = [session.get(Escalation, i) for i in made]
    assert row.tip_id == idle.id and row.kind is EscalationKind.UNTOUCHED
    assert row.holder_id == detective.id
    assert escalation.escalate_overdue(session, idle.due_at + timedelta(minutes=2)) == []


def test_a_new_due_time_is_a_new_breach(session, detective, make_staff):
    tip = submit(session, there_now=True)
    escalation.escalate_overdue(session, tip.due_at + timedelta(minutes=1))
    held = triage.set_priority(session, make_staff(Role.SUPERVISOR, "sup"), tip, TipPriority.HIGH)
    closures.confirm_held(session, make_staff(Role.SUPERVISOR, "sup2"), held.id)
    session.commit()
    assert len(escalation.escalate_overdue(session, tip.due_at + timedelta(minutes=1))) == 1
    assert escalations(session) == 2


def test_a_stale_claim_returns_to_the_queue(session, detective):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    session.commit()
    now = utcnow()
    assert escalation.return_stale_claims(session, now + timedelta(minutes=59), 60) == []
    assert escalation.return_stale_claims(session, now + timedelta(minutes=61), 60) == [
        tip.public_ref
    ]
    session.commit()
    session.refresh(tip)
    assert tip.claimed_by_id is None and tip.status is TipStatus.NEW
    event = audit.events_for(session, "tip", tip.public_ref)[-1]
    assert event.action == "tip.claim_expired" and event.details["from_id"] == detective.id
    assert escalation.return_stale_claims(session, now + timedelta(minutes=120), 60) == []


def test_a_claim_being_worked_is_not_stale(session, detective):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    triage.change_status(session, detective, tip, TipStatus.NEEDS_INFO)
    session.commit()
    # Worked just now: the claim is younger than the window's end, the work inside it.
    now = utcnow() + timedelta(minutes=30)
    assert escalation.return_stale_claims(session, now, 60) == []
    assert escalation.return_stale_claims(session, now + timedelta(minutes=60), 60) == [
        tip.public_ref
    ]
    session.refresh(tip)
    assert tip.status is TipStatus.NEEDS_INFO  # a worked status stays; only the claim goes


def test_acknowledging_is_audited_and_only_for_supervisors(session, make_staff, detective):
    tip = submit(session, there_now=True)
    [made] = escalation.escalate_overdue(session, tip.due_at + timedelta(minutes=1))
    sup = make_staff(Role.SUPERVISOR, "sup")
    assert [e.id for e in escalation.open_escalations(session, sup)] == [made]
    with pytest.raises(triage.NotAllowed):
        escalation.acknowledge(session, detective, made, utcnow())
    escalation.acknowledge(session, sup, made, utcnow())
    assert escalation.open_escalations(session, sup) == []
    assert audit.events_for(session, "tip", tip.public_ref)[-1].action == (
        "tip.escalation_acknowledged"
    )


def test_the_mail_is_a_link_without_tip_content(session):
    tip = submit(session, "She drives a green Buick", there_now=True)
    [made] = escalation.escalate_overdue(session, tip.due_at + timedelta(minutes=1))
    subject, body = escalation.escalation_mail(session.get(Escalation, made), "https://t.example/")
    assert f"https://t.example/staff/tips/{tip.public_ref}" in body
    assert "https://t.example/staff/oversight" in body
    assert "Buick" not in subject + body


def test_two_concurrent_sweeps_create_one_escalation(app, database_url, session):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers are a PostgreSQL test (SQLite has one writer)")
    tip = submit(session, there_now=True)
    now = tip.due_at + timedelta(minutes=1)
    maker = app.extensions["tipline.write_sessionmaker"]
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            with maker() as s:
                # Both read the candidates before either inserts.
                s.execute(select(func.count()).select_from(Escalation)).scalar()
                barrier.wait(timeout=10)
                made = escalation.escalate_overdue(s, now)
                s.commit()
                results.append(made)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 1]
    session.expire_all()
    assert escalations(session) == 1 and escalated_events(session) == 1
