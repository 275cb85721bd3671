"""Retention with a frozen clock: a tip closed longer than the retention period is emptied in
place (a tombstone stays), its audit trail stays and gains "tip.purged", search no longer finds
its words, an open tip is never purged, and `tipline audit verify` still counts one "received"
event per tip."""

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from tipline import audit
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import ReceiptSession, Tip, TipAttachment, TipMessage, TipStatus
from tipline.triage import dialog as staff_dialog
from tipline.triage import retention, search
from tipline.triage import services as triage
from tipline.triage.models import TipNote

from ..conftest import DATA_KEY

KEY = receipts.receipt_key("k" * 40)
S = TipStatus


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def closed_tip(session, detective, narrative):
    report = tips.TipReport(
        narrative,
        seen_where="Behind the Piggly Wiggly on Claiborne",
        vehicle_plate="ABC1234",
        contact="Alexis 504-555-0100",
    )
    tip, _ = tips.submit_tip(session, report, KEY, photos=[png()], data_key=DATA_KEY)
    triage.claim_tip(session, detective, tip)
    staff_dialog.ask_tipster(session, tip, detective, "Which way did she go?")
    triage.add_note(session, detective, tip, "Plate checks out as stolen")
    triage.change_status(session, detective, tip, S.NO_ACTION, "Mistaken identity on Claiborne")
    session.commit()
    return tip


def test_purge_empties_a_closed_tip_and_keeps_a_tombstone_and_its_trail(runner, session, detective):
    tip = closed_tip(session, detective, "She drives a maroon Oldsmobile")
    open_tip, _ = tips.submit_tip(session, tips.TipReport("A maroon Oldsmobile again"), KEY)
    session.commit()
    assert {h.tip.id for h in search.search_tips(session, detective, "oldsmobile").hits} == {
        tip.id,
        open_tip.id,
    }
    trail_before = [e.action for e in audit.events_for(session, "tip", tip.public_ref)]

    now = utcnow()
    assert retention.purge_expired_tips(session, now + timedelta(days=29), 30) == []
    assert retention.purge_expired_tips(session, now + timedelta(days=31), 30) == [tip.public_ref]
    session.commit()
    session.expire_all()

    tip = session.get(Tip, tip.id)
    assert tip.narrative == "" and tip.seen_where == "" and tip.vehicle_plate == ""
    assert tip.contact_sealed is None and tip.status_reason == ""
    assert tip.purged_at is not None and tip.status is S.NO_ACTION  # outcome kept
    assert tip.public_ref and tip.received_at and tip.closed_at  # tombstone
    assert session.scalar(select(func.count()).where(TipAttachment.tip_id == tip.id)) == 0
    bodies = session.scalars(select(TipMessage.body).where(TipMessage.tip_id == tip.id)).all()
    assert bodies and set(bodies) == {""}
    assert set(session.scalars(select(TipNote.body).where(TipNote.tip_id == tip.id))) == {""}
    assert session.scalar(select(func.count()).where(ReceiptSession.tip_id == tip.id)) == 0

    trail = audit.events_for(session, "tip", tip.public_ref)
    assert [e.action for e in trail] == [*trail_before, "tip.purged"]
    assert trail[-1].actor_label == audit.SYSTEM
    assert "Oldsmobile" not in str(trail[-1].details)

    # The index no longer holds the purged words; the open tip is still found.
    hits = search.search_tips(session, detective, "oldsmobile").hits
    assert [h.tip.id for h in hits] == [open_tip.id]
    assert search.search_tips(session, detective, "claiborne").hits == []

    # Purging again does nothing; the chain and the "received" count still verify.
    assert retention.purge_expired_tips(session, now + timedelta(days=400), 30) == []
    session.commit()  # as the job does: the purge holds the writers' lock until then
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Tips: 2; tip.received events: 2." in result.output


def test_an_open_tip_is_never_purged(session, detective):
    tip, _ = tips.submit_tip(session, tips.TipReport("Still being worked"), KEY)
    triage.claim_tip(session, detective, tip)
    session.commit()
    assert retention.purge_expired_tips(session, utcnow() + timedelta(days=5000), 1) == []
    with pytest.raises(ValueError, match="open tip"):
        retention.purge_tip(session, tip, utcnow())
    assert tip.narrative == "Still being worked"


def test_a_purged_tip_cannot_be_reopened(session, detective, make_staff):
    from tipline.triage import closures
    from tipline.triage.access import TransitionRefused

    tip = closed_tip(session, detective, "Gone")
    retention.purge_expired_tips(session, utcnow() + timedelta(days=400), 30)
    with pytest.raises(TransitionRefused, match="retention"):
        closures.reopen_tip(session, make_staff(Role.SUPERVISOR, "sup"), tip, "Look again")
