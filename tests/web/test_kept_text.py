"""Typed text is never dropped by a staff form: a refused or invalid action shows the tip page
again with what was typed, the chosen status still selected, and the error beside the field."""

import re

from sqlalchemy import select

from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import TipStatus
from tipline.triage import services as triage
from tipline.triage.models import TipNote

from ..conftest import csrf_token, sign_in


def claimed_tip(app, session, detective):
    tip, _ = tips.submit_tip(
        session, tips.TipReport("Seen on Canal"), receipts.receipt_key(app.secret_key)
    )
    triage.claim_tip(session, detective, tip)
    session.commit()
    return tip


def post_on_tip_page(client, tip, action: str, **data):
    """POST ``data`` to the ``action`` form of ``tip``'s page, with the page's CSRF token."""
    url = f"/staff/tips/{tip.public_ref}"
    return client.post(f"{url}/{action}", data={"csrf_token": csrf_token(client, url), **data})


def test_a_refused_status_change_keeps_the_status_reason_and_reference(
    app, client, session, detective
):
    tip = claimed_tip(app, session, detective)
    response = post_on_tip_page(
        client,
        tip,
        "status",
        status="duplicate",
        reason="Same caller as this morning",
        duplicate_of="ZZZZZZZZ",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'<option (selected )?value="duplicate"( selected)?>', page)
    assert 'selected value="duplicate"' in page or 'value="duplicate" selected' in page
    assert "Same caller as this morning" in page and 'value="ZZZZZZZZ"' in page
    # The error sits beside the reference field, not in a banner.
    assert re.search(r'id="duplicate_of-error">There is no tip with that reference', page)
    session.refresh(tip)
    assert tip.status is TipStatus.IN_REVIEW


def test_a_reason_missing_is_tied_to_the_reason_and_keeps_the_choice(
    app, client, session, detective
):
    tip = claimed_tip(app, session, detective)
    response = post_on_tip_page(client, tip, "status", status="forwarded", reason="")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'selected value="forwarded"' in page or 'value="forwarded" selected' in page
    assert re.search(r'id="reason-error">Say which unit or agency', page)


def test_a_note_too_long_comes_back_with_its_text(app, client, session, detective):
    tip = claimed_tip(app, session, detective)
    text = "She was seen " + "x" * 20000
    response = post_on_tip_page(client, tip, "notes", body=text)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and text in page and 'id="note-body-error"' in page
    assert session.scalars(select(TipNote)).all() == []


def test_an_empty_question_shows_the_page_again_with_the_error_at_the_box(
    app, client, session, detective
):
    tip = claimed_tip(app, session, detective)
    response = post_on_tip_page(client, tip, "questions", body="   ")
    assert response.status_code == 400
    assert 'id="question-body-error"' in response.get_data(as_text=True)


def _idle(session, user, minutes=31):
    """Age the staff member's live session past the idle timeout."""
    from datetime import timedelta

    from tipline.auth.models import StaffSession

    session.rollback()
    session.expire_all()
    row = session.scalar(
        select(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
    )
    row.last_seen_at -= timedelta(minutes=minutes)
    session.commit()


def test_a_note_sent_after_the_idle_timeout_is_kept_and_given_back_after_sign_in(
    app, client, session, detective
):
    from tipline.auth.models import StaffDraft

    tip = claimed_tip(app, session, detective)
    url = f"/staff/tips/{tip.public_ref}"
    token = csrf_token(client, url)
    _idle(session, detective)
    note = "Spoke to the landlord: she left on Tuesday"
    response = client.post(
        f"{url}/notes",
        data={"csrf_token": token, "body": note},
        headers={"Referer": f"http://localhost{url}"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/staff/login?next=")
    login = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after 30 minutes without activity" in login
    assert "What you were sending was kept" in login
    # Kept sealed: the text is not readable in the database.
    session.rollback()
    [kept] = session.scalars(select(StaffDraft)).all()
    assert note.encode() not in kept.sealed and kept.user_id == detective.id

    signed = sign_in(client, "det", next=f"{url}/notes")
    assert signed.status_code == 303 and signed.headers["Location"] == url  # a GET page
    page = client.get(url).get_data(as_text=True)
    assert note in page and "back below" in page
    assert 'id="note-body"' in page
    session.rollback()
    assert session.scalars(select(StaffDraft)).all() == []  # given back once
    assert note not in client.get(url).get_data(as_text=True)


def test_text_kept_for_one_account_is_not_given_to_another(
    app, client, session, detective, make_staff
):
    tip = claimed_tip(app, session, detective)
    url = f"/staff/tips/{tip.public_ref}"
    token = csrf_token(client, url)
    _idle(session, detective)
    # No Referer (a proxy may strip it): the page is found from the form's address.
    kept = client.post(f"{url}/notes", data={"csrf_token": token, "body": "Secret lead"})
    assert kept.headers["Location"] == f"/staff/login?next={url}"
    make_staff(Role.DETECTIVE, "other")
    other = app.test_client()
    sign_in(other, "other")
    assert "Secret lead" not in other.get(url).get_data(as_text=True)


def test_next_after_sign_in_only_goes_to_a_page_a_get_can_show(client, make_staff):
    make_staff(Role.DETECTIVE, "det2")
    response = sign_in(client, "det2", next="/staff/tips/ABCDEFGH/notes")
    assert response.status_code == 303 and response.headers["Location"] == "/staff/"


def test_the_short_reference_shown_on_pages_is_accepted_as_duplicate_of(
    app, client, session, detective
):
    original = claimed_tip(app, session, detective)
    tip = claimed_tip(app, session, detective)
    page = client.get(f"/staff/tips/{original.public_ref}").get_data(as_text=True)
    assert f"Tip {original.short_ref}" in page
    response = post_on_tip_page(
        client,
        tip,
        "status",
        status="duplicate",
        reason="Same sighting",
        duplicate_of=original.short_ref.lower(),
    )
    assert response.status_code == 303
    session.refresh(tip)
    assert tip.duplicate_of_id == original.id
