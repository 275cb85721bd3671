"""Text typed into a staff form outlives the session cookie: after a sign-out or a new sign-in
in another window, or with the cookie gone altogether, the form's own ticket names whose text
it is, the text is kept sealed for that account, and it comes back in its box on the page it
was typed on once they sign in again. Never for another account, nor after a password change."""

import re

from sqlalchemy import select

from tipline.auth.models import Role, StaffDraft, StaffUser
from tipline.auth.sessions import end_all_sessions
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.triage import services as triage
from tipline.triage.models import TipNote

from ..conftest import csrf_token, sign_in

NOTE = "Landlord says she left on Tuesday with two suitcases"


def _tip_page(app, session, detective, client):
    """A claimed tip's page as the detective has it open: its address, token and ticket."""
    tip, _ = tips.submit_tip(
        session, tips.TipReport("Seen on Canal"), receipts.receipt_key(app.secret_key)
    )
    triage.claim_tip(session, detective, tip)
    session.commit()
    url = f"/staff/tips/{tip.public_ref}"
    page = client.get(url).get_data(as_text=True)
    form = page[page.index('action="' + url + '/notes"') :]
    ticket = re.search(r'name="draft_ticket" value="([^"]+)"', form).group(1)
    return url, csrf_token(client, url), ticket


def _sign_out(client) -> None:
    token = csrf_token(client, "/staff/password")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303


def _kept(session) -> list[StaffDraft]:
    session.rollback()
    return session.scalars(select(StaffDraft)).all()


def test_a_note_sent_after_signing_out_in_another_window_comes_back_after_sign_in(
    app, client, session, detective
):
    url, token, ticket = _tip_page(app, session, detective, client)
    _sign_out(client)  # the other window: the cookie no longer has the session or the token
    response = client.post(
        f"{url}/notes", data={"csrf_token": token, "draft_ticket": ticket, "body": NOTE}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/login?next={url}"
    login = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You had signed out" in login and "What you were sending was kept" in login
    [kept] = _kept(session)
    assert kept.user_id == detective.id and NOTE.encode() not in kept.sealed

    signed = sign_in(client, "det", next=url)
    assert signed.status_code == 303 and signed.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert re.search(r'<textarea[^>]*id="note-body"[^>]*>\s*' + NOTE, page)
    assert _kept(session) == []
    assert session.scalars(select(TipNote)).all() == []  # kept, never sent on its own


def test_a_note_sent_with_the_cookie_gone_is_kept_for_the_account_its_page_named(
    app, client, session, detective
):
    url, token, ticket = _tip_page(app, session, detective, client)
    fresh = app.test_client()  # the browser lost every cookie (cleared, or a new profile)
    response = fresh.post(
        f"{url}/notes", data={"csrf_token": token, "draft_ticket": ticket, "body": NOTE}
    )
    assert response.status_code == 303 and response.headers["Location"].startswith(
        "/staff/login?next="
    )
    [kept] = _kept(session)
    assert kept.user_id == detective.id
    assert sign_in(fresh, "det").headers["Location"] == url
    assert NOTE in fresh.get(url).get_data(as_text=True)


def test_a_note_from_before_signing_in_again_goes_straight_back_into_its_box(
    app, client, session, detective
):
    url, token, ticket = _tip_page(app, session, detective, client)
    sign_in(client, "det")  # another window signed in again: new session, new CSRF token
    response = client.post(
        f"{url}/notes", data={"csrf_token": token, "draft_ticket": ticket, "body": NOTE}
    )
    assert response.status_code == 303 and response.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert "back below" in page
    assert re.search(r'<textarea[^>]*id="note-body"[^>]*>\s*' + NOTE, page)


def test_without_a_good_ticket_the_form_has_just_expired_and_nothing_is_kept(
    app, client, session, detective
):
    url, token, ticket = _tip_page(app, session, detective, client)
    _sign_out(client)
    for bad in ("", ticket[:-2] + "xx"):
        response = client.post(
            f"{url}/notes", data={"csrf_token": token, "draft_ticket": bad, "body": NOTE}
        )
        assert response.status_code == 400
        assert "This form has expired" in response.get_data(as_text=True)
    assert _kept(session) == []


def test_a_ticket_from_another_site_or_after_a_password_change_keeps_nothing(
    app, client, session, detective
):
    url, token, ticket = _tip_page(app, session, detective, client)
    _sign_out(client)
    cross = client.post(
        f"{url}/notes",
        data={"csrf_token": token, "draft_ticket": ticket, "body": NOTE},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 400 and _kept(session) == []


def test_after_a_password_change_nothing_is_kept(app, client, session, detective):
    """A password change ends sessions because someone else may hold them."""
    url, token, ticket = _tip_page(app, session, detective, client)
    session.rollback()
    end_all_sessions(session, session.get(StaffUser, detective.id), "password_changed")
    session.commit()
    response = client.post(
        f"{url}/notes", data={"csrf_token": token, "draft_ticket": ticket, "body": NOTE}
    )
    assert response.status_code == 303 and response.headers["Location"].startswith("/staff/login")
    assert _kept(session) == []
    assert "was kept" not in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_call_typed_when_the_session_ended_comes_back_into_the_call_form(
    app, session, make_staff
):
    make_staff(Role.CALL_TAKER, "ct")
    taker = app.test_client()
    sign_in(taker, "ct")
    page = taker.get("/staff/calls/new").get_data(as_text=True)
    ticket = re.search(r'name="draft_ticket" value="([^"]+)"', page).group(1)
    token = csrf_token(taker, "/staff/calls/new")
    _sign_out(taker)
    words = "Caller saw him at the Rampart bus stop, grey hoodie"
    response = taker.post(
        "/staff/calls/new",
        data={
            "csrf_token": token,
            "draft_ticket": ticket,
            "disposition": "hung_up",
            "narrative": words,
            "vehicle_colour": "Grey",
        },
        headers={"Referer": "http://localhost/staff/calls/new"},
    )
    assert response.headers["Location"] == "/staff/login?next=/staff/calls/new"
    assert sign_in(taker, "ct").headers["Location"] == "/staff/calls/new"
    form = taker.get("/staff/calls/new").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*id="narrative"[^>]*>\s*' + words, form)
    assert re.search(r'<input[^>]*name="vehicle_colour"[^>]*value="Grey"', form)
    assert re.search(r'<option selected value="hung_up">|<option value="hung_up" selected>', form)
