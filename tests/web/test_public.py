"""The public side: notices, the tip form, the receipt."""

import re

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tipline import db
from tipline.demo import DEMO_NOTICE
from tipline.notices import services as notices
from tipline.tips import receipts
from tipline.tips.models import Tip

from ..conftest import RECEIPT_RE, csrf_token, receipt_code_on
from .tipster import send_tip


def test_gallery_lists_published_notices_only(client, session, published_notice):
    notices.create_notice(session, notices.NoticeDraft(subject_name="Draft Person"), "pio")
    session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "Alexis Jane Doe" in page
    assert f'href="/notices/{published_notice.slug}"' in page
    assert "Draft Person" not in page


def test_notice_page_shows_charges_caution_reward_and_tel_links(client, published_notice):
    response = client.get(f"/notices/{published_notice.slug}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<a class="contact-phone" href="tel:+1-504-658-6030">504-658-6030</a>' in page
    assert '<a class="contact-phone" href="tel:+1-504-822-1111">504-822-1111</a>' in page
    assert "La. R.S. 14:134" in page and "Malfeasance in office" in page
    assert "La. R.S. 14:338" in page and "Interfering with emergency communication" in page
    assert "Do not approach" in page
    assert "cash reward" in page
    assert 'alt="No photo of Alexis Jane Doe has been published"' in page
    assert f'href="/notices/{published_notice.slug}/tip"' in page


def test_draft_and_unknown_notices_are_not_found(client, session):
    draft = notices.create_notice(session, DEMO_NOTICE, "pio")
    session.commit()
    assert client.get(f"/notices/{draft.slug}").status_code == 404
    assert client.get(f"/notices/{draft.slug}/tip").status_code == 404
    assert client.get("/notices/nobody").status_code == 404


def test_a_slug_no_notice_could_have_is_not_found_on_either_database(client):
    # A NUL byte made PostgreSQL raise (a 500) before slugs were checked first.
    for slug in ["%00", "a%00b", "UPPER", "x" * 121]:
        assert client.get(f"/notices/{slug}").status_code == 404, slug
        assert client.get(f"/notices/{slug}/tip").status_code == 404, slug


def test_reading_notices_sets_no_cookie(client, published_notice):
    for url in ["/", f"/notices/{published_notice.slug}"]:
        response = client.get(url)
        assert "Set-Cookie" not in response.headers, url


def test_every_tip_form_says_call_911(client, published_notice):
    for url in ["/tip", f"/notices/{published_notice.slug}/tip"]:
        page = client.get(url).get_data(as_text=True)
        box = re.search(r'<div class="call-911"[^>]*>(.*?)</div>', page, re.S).group(1)
        assert "In immediate danger, or they are there right now?" in box
        assert '<a href="tel:911">911</a> first' in box


def test_tip_post_without_csrf_token_is_refused_and_saves_nothing(client, session):
    client.get("/tip")  # a session exists, but the form's token is missing
    response = client.post("/tip", data={"narrative": "forged"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Tip)) == 0


def test_tip_on_a_notice_gets_a_receipt_code_that_was_committed(app, client, published_notice):
    url = f"/notices/{published_notice.slug}/tip"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "narrative": "She was buying coffee on Magazine St.",
            "seen_when": "today 3 pm",
            "seen_where": "Magazine St & Napoleon Ave",
            "there_now": "y",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    shown = re.search(r'<p class="receipt-code"[^>]*><code>(.*?)</code>', page).group(1)
    code = re.sub(r"<[^>]+>", "", shown)
    assert RECEIPT_RE.fullmatch(code)
    assert shown.count('<span class="code-group">') == 5  # groups never break mid-way
    # A separate connection sees the tip: the receipt was shown after the commit.
    with app.app_context(), Session(db.engine()) as other:
        tip = other.scalar(select(Tip))
        assert tip.receipt_hash == receipts.hash_code(receipts.receipt_key(app.secret_key), code)
        assert tip.notice_id == published_notice.id
        assert tip.there_now is True
        assert (tip.seen_when, tip.seen_where) == ("today 3 pm", "Magazine St & Napoleon Ave")


def test_each_kept_receipt_page_shows_its_own_code_its_language_and_its_urgency(
    app, client, session, published_notice
):
    """Receipt pages come from a kept copy with the code as slots: each tip still gets its
    own code (the one stored), in the visitor's language, with the "call now" line only
    when they said the person is there now."""
    url = f"/notices/{published_notice.slug}/tip"
    shown = []
    for lang, there_now in [("en", ""), ("en", ""), ("es", ""), ("en", "y"), ("es", "y")]:
        page, code = send_tip(client, f"{url}?lang={lang}", narrative="Seen", there_now=there_now)
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and RECEIPT_RE.fullmatch(code)
        assert f'<html lang="{lang}">' in text
        assert ('<p class="call-911">' in text) == bool(there_now)
        assert "tiplinecodeslot" not in text
        shown.append(code)
    assert len(set(shown)) == len(shown)
    key = receipts.receipt_key(app.secret_key)
    stored = set(session.scalars(select(Tip.receipt_hash)))
    assert stored == {receipts.hash_code(key, code) for code in shown}


def test_no_receipt_is_shown_when_the_commit_fails(client, session, monkeypatch):
    token = csrf_token(client, "/tip")

    def failing_commit(self):
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", failing_commit)
    response = client.post(
        "/tip", data={"csrf_token": token, "narrative": "Seen at the levee", "seen_when": "noon"}
    )
    monkeypatch.undo()
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert receipt_code_on(page) is None
    assert 'class="receipt-code"' not in page
    assert "Your tip was not saved" in page
    assert "Seen at the levee" in page  # what they typed is kept
    assert session.scalar(select(func.count()).select_from(Tip)) == 0


def test_empty_narrative_is_explained_and_the_rest_is_kept(client, session):
    token = csrf_token(client, "/tip")
    response = client.post(
        "/tip", data={"csrf_token": token, "narrative": " ", "seen_where": "Canal Street"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please tell us what you saw" in page
    assert 'aria-invalid="true"' in page
    assert "Canal Street" in page
    assert session.scalar(select(func.count()).select_from(Tip)) == 0


def test_tip_form_on_a_wrong_method_or_with_overlong_text_fails_plainly(client):
    token = csrf_token(client, "/tip")
    response = client.post("/tip", data={"csrf_token": token, "narrative": "x" * 20001})
    assert response.status_code == 400
    assert "under 20,000 characters" in response.get_data(as_text=True)
    assert client.delete("/tip").status_code == 405


def test_no_address_agent_or_referrer_is_stored(app, client, session, published_notice):
    url = f"/notices/{published_notice.slug}/tip"
    marks = {
        "REMOTE_ADDR": "203.0.113.77",
        "HTTP_USER_AGENT": "Mozilla/5.0 TrackMeAgent/9.9",
        "HTTP_REFERER": "https://referrer.example/secret-page",
        "HTTP_X_FORWARDED_FOR": "198.51.100.23",
    }
    token = csrf_token(client, url)
    client.post(url, data={"csrf_token": token, "narrative": "seen"}, environ_base=marks)
    dump = []
    for table in ["tip", "audit_event", "notice", "staff_user"]:
        for row in session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 - fixed names
            dump.append(repr(tuple(row)))
    everything = "\n".join(dump)
    assert "seen" in everything  # the dump did read the tip
    for needle in ["203.0.113.77", "TrackMeAgent", "referrer.example", "198.51.100.23"]:
        assert needle not in everything
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])  # the tip form's CSRF session
    assert cookie is not None
    assert not re.search(r"203\.0\.113|TrackMe", cookie.value)


def test_health_check(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
