"""A tipster's late answer reaches the detectives: the queue's "answered" marker and "New
messages" view with its count, the receipt page telling the truth about a closed tip, and
the supervisors' list of closed tips with a message."""

from sqlalchemy import select

from tipline.auth.models import Role
from tipline.tips.models import Tip, TipStatus
from tipline.triage import services as triage

from ..conftest import csrf_token, sign_in
from .tipster import open_receipt, send_tip


def answer(client, code, body):
    open_receipt(client, code)
    return client.post(
        "/receipt/answer", data={"csrf_token": csrf_token(client, "/receipt"), "body": body}
    )


def test_a_late_answer_shows_in_new_messages_until_opened(app, client, session, make_staff):
    _, code = send_tip(client)
    assert answer(client, code, "She took the 88 bus").status_code == 303
    tip = session.scalar(select(Tip))
    make_staff(Role.DETECTIVE, "det")
    staff = app.test_client()
    sign_in(staff, "det")
    queue = staff.get("/staff/queue?view=messages").get_data(as_text=True)
    assert 'New messages <span class="count">(1)</span>' in queue
    assert "Answered: unread" in queue and tip.short_ref in queue
    page = staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    assert "She took the 88 bus" in page
    queue = staff.get("/staff/queue?view=messages").get_data(as_text=True)
    assert 'New messages <span class="count">(0)</span>' in queue
    assert "Answered: unread" not in queue


def test_a_closed_tip_says_what_happens_to_a_message_and_supervisors_see_it(
    app, client, session, make_staff
):
    _, code = send_tip(client)
    tip = session.scalar(select(Tip))
    detective = make_staff(Role.DETECTIVE, "det")
    triage.claim_tip(session, detective, tip)
    triage.change_status(session, detective, tip, TipStatus.ACTIONABLE, "")
    triage.change_status(session, detective, tip, TipStatus.CLOSED, "Located and arrested")
    session.commit()
    open_receipt(client, code)
    page = client.get("/receipt").get_data(as_text=True)
    assert "This tip is closed. What you send now is not lost" in page
    sent = client.post(
        "/receipt/answer",
        data={"csrf_token": csrf_token(client, "/receipt"), "body": "Seen again"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "a supervisor will read what you sent" in sent
    assert "The detective will see what you sent" not in sent
    # In Spanish too.
    open_receipt(client, code, environ={"QUERY_STRING": ""})
    spanish = client.get("/receipt?lang=es").get_data(as_text=True)
    assert "This tip is closed" not in spanish

    make_staff(Role.SUPERVISOR, "sup")
    staff = app.test_client()
    sign_in(staff, "sup")
    oversight = staff.get("/staff/oversight").get_data(as_text=True)
    assert 'Tipsters writing on closed tips <span class="count">(1)</span>' in oversight
    assert tip.short_ref in oversight
