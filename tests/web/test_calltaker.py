"""Phone intake: every call gets a disposition; a tip taken by phone names its call-taker."""

import re

import pytest
from sqlalchemy import func, select

from tipline import audit
from tipline.auth.models import Role
from tipline.calls.models import CallRecord, Disposition
from tipline.tips import receipts
from tipline.tips.models import Tip

from ..conftest import csrf_token, receipt_code_on
from .conftest import staff_client


def _form(client) -> dict:
    page = client.get("/staff/calls/new").get_data(as_text=True)
    token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', page).group(1)
    return {"csrf_token": csrf_token(client, "/staff/calls/new"), "form_token": token}


def test_a_tip_taken_by_phone_is_recorded_with_the_operator_and_read_back(
    app, session, make_staff, published_notice
):
    taker = staff_client(app, make_staff, Role.CALL_TAKER, "ct-1")
    data = {
        **_form(taker),
        "disposition": "tip_taken",
        "notice": published_notice.slug,
        "narrative": "Caller saw her at the Canal St ferry",
        "there_now": "y",
        "vehicle_colour": "Blue",
    }
    response = taker.post("/staff/calls/new", data=data)
    page = response.get_data(as_text=True)
    code = receipt_code_on(page)
    assert response.status_code == 200 and code
    assert "Read the code back to the caller" in page
    assert response.headers["Cache-Control"] == "no-store"
    tip = session.scalar(select(Tip))
    assert tip.operator.username == "ct-1" and tip.notice_id == published_notice.id
    assert tip.there_now and tip.vehicle_colour == "Blue"
    assert tip.receipt_hash == receipts.hash_code(receipts.receipt_key(app.secret_key), code)
    call = session.scalar(select(CallRecord))
    assert call.disposition is Disposition.TIP_TAKEN and call.tip_id == tip.id
    assert [e.action for e in audit.events_for(session, "call", call.id)] == ["call.logged"]
    # The same form sent again (double click) makes no second tip or call.
    again = taker.post("/staff/calls/new", data=data).get_data(as_text=True)
    assert receipt_code_on(again) == code
    assert session.scalar(select(func.count()).select_from(Tip)) == 1


def test_a_dropped_call_is_still_a_record(app, session, make_staff):
    taker = staff_client(app, make_staff, Role.CALL_TAKER, "ct-1")
    response = taker.post(
        "/staff/calls/new", data={**_form(taker), "disposition": "hung_up", "note": "silence"}
    )
    assert response.status_code == 303
    call = session.scalar(select(CallRecord))
    assert call.disposition is Disposition.HUNG_UP and call.tip_id is None
    assert call.operator.username == "ct-1"
    assert session.scalar(select(func.count()).select_from(Tip)) == 0
    assert audit.events_for(session, "call", call.id)[0].details["disposition"] == "hung_up"
    page = taker.get("/staff/calls/").get_data(as_text=True)
    assert "Caller hung up" in page and "silence" in page


def test_tip_taken_needs_what_the_caller_saw(app, session, make_staff):
    taker = staff_client(app, make_staff, Role.CALL_TAKER, "ct-1")
    response = taker.post("/staff/calls/new", data={**_form(taker), "disposition": "tip_taken"})
    assert response.status_code == 400
    assert "Write what the caller saw" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(CallRecord)) == 0


def test_call_takers_see_only_their_own_calls_and_supervisors_see_all(app, make_staff):
    one = staff_client(app, make_staff, Role.CALL_TAKER, "ct-1")
    two = staff_client(app, make_staff, Role.CALL_TAKER, "ct-2")
    one.post("/staff/calls/new", data={**_form(one), "disposition": "prank", "note": "NOTE-ONE"})
    two.post("/staff/calls/new", data={**_form(two), "disposition": "prank", "note": "NOTE-TWO"})
    page = one.get("/staff/calls/").get_data(as_text=True)
    assert "NOTE-ONE" in page and "NOTE-TWO" not in page
    boss = staff_client(app, make_staff, Role.SUPERVISOR, "sup-1")
    page = boss.get("/staff/calls/").get_data(as_text=True)
    assert "NOTE-ONE" in page and "NOTE-TWO" in page
    assert boss.get("/staff/calls/new").status_code == 403  # supervisors read, not log
    assert one.get("/staff/queue").status_code == 403  # call-takers never read the queue
    detective = staff_client(app, make_staff, Role.DETECTIVE, "det-1")
    assert detective.get("/staff/calls/").status_code == 403


def test_a_dropped_call_keeps_what_was_typed_as_a_tip_marked_call_dropped(app, session, make_staff):
    taker = staff_client(app, make_staff, Role.CALL_TAKER, "ct-1")
    response = taker.post(
        "/staff/calls/new",
        data={
            **_form(taker),
            "disposition": "hung_up",
            "narrative": "She is at the laundromat on",
            "vehicle_plate": "LA 77",
        },
    )
    assert response.status_code == 303
    tip = session.scalar(select(Tip))
    assert tip.call_dropped and tip.narrative == "She is at the laundromat on"
    assert tip.vehicle_plate == "LA 77" and tip.operator.username == "ct-1"
    call = session.scalar(select(CallRecord))
    assert call.disposition is Disposition.HUNG_UP and call.tip_id == tip.id
    page = taker.get("/staff/calls/").get_data(as_text=True)
    assert f"saved as tip {tip.short_ref}" in page and "call dropped" in page
    # Only other fields typed: still kept, with a narrative that says so.
    second = taker.post(
        "/staff/calls/new",
        data={**_form(taker), "disposition": "hung_up", "seen_where": "Elysian Fields"},
    )
    assert second.status_code == 303
    session.rollback()  # end the test's read snapshot
    kept = session.scalar(select(Tip).where(Tip.seen_where == "Elysian Fields"))
    assert kept.call_dropped and "dropped before the caller said" in kept.narrative
    detective = staff_client(app, make_staff, Role.DETECTIVE, "det")
    assert "Call dropped" in detective.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)


def test_another_disposition_with_typed_tip_words_asks_to_choose_and_keeps_them(
    app, session, make_staff
):
    taker = staff_client(app, make_staff, Role.CALL_TAKER, "ct-1")
    response = taker.post(
        "/staff/calls/new",
        data={**_form(taker), "disposition": "prank", "narrative": "Maybe a real sighting"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "You typed part of a tip" in page and "Maybe a real sighting" in page
    assert '<option selected value="prank">' in page or 'value="prank" selected' in page
    assert session.scalar(select(func.count()).select_from(CallRecord)) == 0


@pytest.mark.parametrize("flagged", [False, True])
def test_a_phone_tips_dialog_is_not_open_to_whoever_typed_it_in_unless_flagged(
    app, session, make_staff, published_notice, flagged
):
    from tipline.tips.models import TipMessage
    from tipline.triage import dialog

    from .tipster import open_receipt

    taker = staff_client(app, make_staff, Role.CALL_TAKER, "ct-1")
    data = {
        **_form(taker),
        "disposition": "tip_taken",
        "narrative": "Caller saw her at the ferry",
        **({"caller_dialog": "y"} if flagged else {}),
    }
    code = receipt_code_on(taker.post("/staff/calls/new", data=data).get_data(as_text=True))
    tip = session.scalar(select(Tip))
    dialog.ask_tipster(session, tip, make_staff(Role.DETECTIVE, "det"), "What was she wearing?")
    session.commit()
    # The call-taker (or anyone who heard the code) opens the receipt page.
    reader = app.test_client()
    assert open_receipt(reader, code).status_code == 303
    page = reader.get("/receipt").get_data(as_text=True)
    token = csrf_token(reader, "/receipt")
    reader.post("/receipt/answer", data={"csrf_token": token, "body": "A red coat"})
    session.expire_all()
    answers = session.scalars(select(TipMessage).where(TipMessage.body == "A red coat")).all()
    if flagged:
        assert "What was she wearing?" in page and len(answers) == 1
    else:
        assert "What was she wearing?" not in page and "given by phone" in page
        assert answers == []
