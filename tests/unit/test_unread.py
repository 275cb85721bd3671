"""A tipster's later message is unread until someone who may see the tip opens it: read time
and reader recorded and audited, a "New messages" view with its count, "Mine" sorts them
first, closed tips go to the supervisors' list, and an unread message escalates once."""

from datetime import timedelta

from sqlalchemy import select

from tipline import audit
from tipline.auth.models import Role
from tipline.tips import dialog, receipts
from tipline.tips import services as tips
from tipline.tips.models import TipMessage, TipStatus
from tipline.triage import escalation, unread
from tipline.triage import queue as queues
from tipline.triage import services as triage
from tipline.triage.models import Escalation, EscalationKind

from ..conftest import DATA_KEY

KEY = receipts.receipt_key("k" * 40)


def submit(session, text="Saw her by the bus stop", **kw):
    tip, _ = tips.submit_tip(session, tips.TipReport(text, **kw), KEY)
    session.commit()
    return tip


def test_an_answer_is_unread_until_a_reader_opens_the_tip(session, detective, make_staff):
    tip = submit(session)
    assert tip.unread_since is None
    message = dialog.answer(session, tip, "She wore red", data_key=DATA_KEY)
    session.commit()
    assert tip.unread_since == message.created_at and message.read_at is None
    # Normal priority: due three days after the message, not after the tip.
    assert tip.unread_due_at == message.created_at + timedelta(days=3)
    # A PIO cannot open it, so it stays unread.
    try:
        triage.view_tip(session, make_staff(Role.PIO, "pio"), tip.public_ref)
    except triage.NotAllowed:
        session.rollback()
    assert session.get(TipMessage, message.id).read_at is None
    assert triage.view_tip(session, detective, tip.public_ref) is not None
    session.commit()
    read = session.get(TipMessage, message.id)
    assert read.read_at is not None and read.read_by_id == detective.id
    assert tip.unread_since is None and tip.unread_due_at is None
    events = audit.events_for(session, "tip", tip.public_ref)
    [event] = [e for e in events if e.action == "tip.messages_read"]
    assert event.details["messages"] == [message.id] and event.actor_id == detective.id
    # Opening it again writes nothing more.
    triage.view_tip(session, detective, tip.public_ref)
    session.commit()
    actions = [e.action for e in audit.events_for(session, "tip", tip.public_ref)]
    assert actions.count("tip.messages_read") == 1


def test_new_messages_view_counts_them_and_mine_puts_them_first(session, detective):
    quiet, answered, other = submit(session, "quiet"), submit(session, "answered"), submit(session)
    for tip in (quiet, answered):
        triage.claim_tip(session, detective, tip)
    session.commit()
    dialog.answer(session, answered, "More: the car was blue", data_key=DATA_KEY)
    dialog.answer(session, other, "Also a photo later", data_key=DATA_KEY)
    session.commit()
    page = queues.queue_page(session, detective, queues.View.MESSAGES)
    assert {t.id for t in page.tips} == {answered.id, other.id}
    assert page.counts[queues.View.MESSAGES] == 2
    mine = queues.queue_page(session, detective, queues.View.MINE)
    assert [t.id for t in mine.tips] == [answered.id, quiet.id]
    # Keyset paging keeps that order one tip at a time.
    first = queues.queue_page(session, detective, queues.View.MINE, limit=1)
    second = queues.queue_page(
        session, detective, queues.View.MINE, after=first.next_cursor, limit=1
    )
    assert [first.tips[0].id, second.tips[0].id] == [answered.id, quiet.id]
    triage.view_tip(session, detective, answered.public_ref)
    session.commit()
    page = queues.queue_page(session, detective, queues.View.MESSAGES)
    assert [t.id for t in page.tips] == [other.id]


def test_a_message_on_a_closed_tip_goes_to_the_supervisors_list(session, detective, supervisor):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    triage.change_status(session, detective, tip, TipStatus.ACTIONABLE, "")
    triage.change_status(session, detective, tip, TipStatus.CLOSED, "Located and arrested")
    session.commit()
    dialog.answer(session, tip, "I saw her again today", data_key=DATA_KEY)
    session.commit()
    assert tip.status is TipStatus.CLOSED  # not reopened by the tipster
    assert [t.id for t in unread.closed_with_unread(session, supervisor)] == [tip.id]
    page = queues.queue_page(session, detective, queues.View.MESSAGES)
    assert [t.id for t in page.tips] == [tip.id]
    triage.view_tip(session, supervisor, tip.public_ref)
    session.commit()
    assert unread.closed_with_unread(session, supervisor) == []


def test_an_unread_message_escalates_exactly_once_and_a_read_one_never(session, detective):
    tip = submit(session)
    triage.claim_tip(session, detective, tip)
    triage.add_note(session, detective, tip, "Working it")  # worked: no "untouched" breach
    session.commit()
    dialog.answer(session, tip, "Urgent: she is at the bar", data_key=DATA_KEY)
    session.commit()
    due = tip.unread_due_at
    assert escalation.escalate_overdue(session, due - timedelta(seconds=1)) == []
    [made] = escalation.escalate_overdue(session, due + timedelta(minutes=1))
    session.commit()
    assert escalation.escalate_overdue(session, due + timedelta(hours=1)) == []
    row = session.get(Escalation, made)
    assert row.kind is EscalationKind.UNREAD and row.due_at == due
    assert row.holder_id == detective.id
    subject, _ = escalation.escalation_mail(row, "https://t.example/")
    assert "unread" in subject

    read = submit(session, "read in time")
    dialog.answer(session, read, "An answer", data_key=DATA_KEY)
    session.commit()
    late = read.unread_due_at + timedelta(minutes=1)
    triage.view_tip(session, detective, read.public_ref)
    session.commit()
    made = escalation.escalate_overdue(session, late)
    rows = [session.get(Escalation, i) for i in made]
    kinds = {row.kind for row in rows if row.tip_id == read.id}
    assert EscalationKind.UNREAD not in kinds
    assert session.scalars(select(TipMessage).where(TipMessage.tip_id == read.id)).one().read_at
