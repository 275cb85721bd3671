"""Dialog and call-log services, without a request."""

import pytest
from sqlalchemy import select

from tipline import audit
from tipline.auth.models import Role
from tipline.calls import services as calls
from tipline.calls.models import CallRecord, Disposition
from tipline.tips import dialog, receipts
from tipline.tips import services as tips
from tipline.triage import dialog as staff_dialog
from tipline.triage.services import NotAllowed

from ..conftest import DATA_KEY

KEY = receipts.receipt_key("k" * 40)


def test_only_tip_readers_ask_and_every_turn_is_audited(session, make_staff):
    tip, _ = tips.submit_tip(session, tips.TipReport("Seen"), KEY)
    for role in [Role.PIO, Role.ADMIN, Role.CALL_TAKER]:
        with pytest.raises(NotAllowed):
            staff_dialog.ask_tipster(session, tip, make_staff(role), "Where?")
    detective = make_staff(Role.DETECTIVE)
    staff_dialog.ask_tipster(session, tip, detective, "  Where exactly?  ")
    dialog.answer(session, tip, "By the \x00 church", data_key=DATA_KEY)
    with pytest.raises(ValueError, match="write an answer or choose a photo"):
        dialog.answer(session, tip, "   ", data_key=DATA_KEY)
    assert [m.body for m in dialog.messages_for(session, tip)] == [
        "Where exactly?",
        "By the  church",
    ]
    actions = [e.action for e in audit.events_for(session, "tip", tip.public_ref)]
    assert actions == ["tip.received", "tip.question_sent", "tip.answered"]


def test_receipt_session_opens_with_the_code_and_ends_on_leave(session):
    tip, code = tips.submit_tip(session, tips.TipReport("Seen"), KEY)
    assert dialog.open_receipt(session, KEY, "7K3M-QX9P-2D4F-HJ8R-WN5T", 20) is None
    token, opened = dialog.open_receipt(session, KEY, code, 20)
    assert opened.id == tip.id
    assert dialog.receipt_tip(session, KEY, token).id == tip.id
    assert dialog.receipt_tip(session, KEY, "forged") is None
    dialog.leave_receipt(session, KEY, token)
    assert dialog.receipt_tip(session, KEY, token) is None


def test_every_call_has_a_disposition_and_a_tip_exactly_when_one_was_taken(session, make_staff):
    taker = make_staff(Role.CALL_TAKER)
    call, code = calls.take_call(
        session, taker, Disposition.TIP_TAKEN, "", tips.TipReport("On Canal"), KEY
    )
    assert code and call.tip.operator_id == taker.id
    call, code = calls.take_call(session, taker, Disposition.WRONG_NUMBER, "", None, KEY)
    assert code is None and call.tip is None
    with pytest.raises(ValueError):
        calls.log_call(session, taker, Disposition.TIP_TAKEN)
    with pytest.raises(calls.NotAllowed):
        calls.take_call(session, make_staff(Role.DETECTIVE), Disposition.PRANK, "", None, KEY)
    assert len(session.scalars(select(CallRecord)).all()) == 2
