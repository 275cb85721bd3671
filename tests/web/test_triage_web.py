"""Staff triage pages: queue views, "Next tip", working a tip, exports, search, notices."""

import json
import re

import pytest
from flask import render_template, template_rendered
from sqlalchemy import event, select

from tipline import audit
from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import Tip, TipStatus
from tipline.triage import services as triage
from tipline.triage.models import NoticeFollow, TipNote

from ..conftest import csrf_token, sign_in
from ..triage_data import insert_tips


def submit(app, session, text, notice=None, **kw):
    tip, _ = tips.submit_tip(
        session, tips.TipReport(text, **kw), receipts.receipt_key(app.secret_key), notice
    )
    session.commit()
    return tip


def post(client, url, data=None, page="/staff/queue"):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **(data or {})})


def test_queue_page_statement_count_does_not_grow_with_rows(
    app, client, session, detective, published_notice, make_staff
):
    """No N+1: 3 tips or 50 on the page, the same number of SQL statements."""
    other = make_staff(Role.DETECTIVE, "other")

    def fill(n: int) -> None:
        insert_tips(session, n, notice_id=published_notice.id, claimed_by_id=other.id)
        for tip in session.scalars(select(Tip).order_by(Tip.id.desc()).limit(n)):
            triage.add_tag(session, other, tip, "vehicle")
        session.commit()

    engine = app.extensions["tipline.engine"]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def statements_for_page() -> int:
        client.get("/staff/queue?view=all")  # warm caches (policy, templates)
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = client.get("/staff/queue?view=all")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert page.status_code == 200
        return len(statements), page.get_data(as_text=True).count('class="tag"')

    fill(3)
    small, small_tags = statements_for_page()
    fill(60)
    large, large_tags = statements_for_page()
    assert (small_tags, large_tags) == (3, 50)  # the page really showed 3, then 50 rows
    assert small == large, statements
    # The page's own queries, two for the server-side staff session (read it, touch it), and
    # the audit event of which tips the page showed (the chain lock, its head, the insert).
    assert large <= 13, statements


def test_next_tip_button_claims_the_most_urgent_and_opens_it(app, client, session, detective):
    submit(app, session, "ordinary")
    urgent = submit(app, session, "she is at the bar now", there_now=True)
    response = post(client, "/staff/queue/next")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/tips/{urgent.public_ref}"
    session.refresh(urgent)
    assert urgent.claimed_by_id == detective.id and urgent.status is TipStatus.IN_REVIEW
    mine = client.get("/staff/queue?view=mine").get_data(as_text=True)
    assert "she is at the bar now" in mine and "ordinary" not in mine


def test_next_tip_with_an_empty_queue_says_so(client, detective):
    response = post(client, "/staff/queue/next")
    assert response.status_code == 303
    assert "There are no unclaimed tips right now." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)


def test_next_tip_needs_a_csrf_token(client, detective):
    assert client.post("/staff/queue/next").status_code == 400


def test_working_a_tip_through_the_pages(app, client, session, detective):
    tip = submit(app, session, "Seen on Magazine St")
    page = f"/staff/tips/{tip.public_ref}"
    post(client, f"{page}/claim", page=page)
    post(client, f"{page}/notes", {"body": "Checked the camera"}, page=page)
    post(client, f"{page}/tags", {"tag": "Camera"}, page=page)
    refused = post(client, f"{page}/status", {"status": "no_action", "reason": ""}, page=page)
    # Shown again in place (400), the error beside the reason.
    assert refused.status_code == 400
    assert "Say why this tip is “No action”." in refused.get_data(as_text=True)
    post(client, f"{page}/status", {"status": "no_action", "reason": "Not her"}, page=page)
    html = client.get(page).get_data(as_text=True)
    assert "Checked the camera" in html and "camera" in html and "No action" in html
    session.refresh(tip)
    assert tip.status is TipStatus.NO_ACTION and tip.status_reason == "Not her"
    actions = [e.action for e in audit.events_for(session, "tip", tip.public_ref)]
    for action in ["tip.claimed", "tip.note_added", "tip.tagged", "tip.status_changed"]:
        assert action in actions


def test_notes_never_reach_the_public_side(app, session, detective, published_notice):
    """Render every public page the tipster's side has, after a note exists, and look at what
    the templates were handed: no note, and no note text in the output."""
    public = app.test_client()
    url = f"/notices/{published_notice.slug}/tip"
    public.post(url, data={"csrf_token": csrf_token(public, url), "narrative": "x y"})
    tip = session.scalar(select(Tip))
    triage.add_note(session, detective, tip, "SECRET-NOTE-TEXT")
    session.commit()

    handed: list[object] = []

    def capture(_sender, template, context, **_extra):
        if template.name.startswith("public/"):
            handed.extend(context.values())

    with template_rendered.connected_to(capture, app):
        pages = [public.get(p).get_data(as_text=True) for p in ["/", url, "/tip"]]
        with app.test_request_context():
            # The receipt page as the return-with-a-code path renders it, for this tip.
            pages.append(
                render_template("public/receipt.html", tip=tip, code="0000-0000", notice=tip.notice)
            )
    assert all("SECRET-NOTE-TEXT" not in page for page in pages)
    assert handed and not any(isinstance(v, TipNote) for v in handed)
    assert not any(
        isinstance(v, list | tuple) and any(isinstance(i, TipNote) for i in v) for v in handed
    )


def test_exports_are_attachments_and_audited_with_the_exporter(app, client, session, detective):
    tip = submit(app, session, "Seen at the ferry")
    response = client.get(f"/staff/tips/{tip.public_ref}/export.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.data)["fields"]["narrative"]["value"] == "Seen at the ferry"
    pdf = client.get(f"/staff/tips/{tip.public_ref}/export.pdf")
    assert pdf.data.startswith(b"%PDF-") and pdf.mimetype == "application/pdf"
    exported = [
        (e.actor_id, e.details["format"])
        for e in audit.events_for(session, "tip", tip.public_ref)
        if e.action == "tip.exported"
    ]
    assert exported == [(detective.id, "json"), (detective.id, "pdf")]


def test_search_highlights_matches_and_escapes_tip_text(app, client, session, detective):
    submit(app, session, "<script>alert(1)</script> red sedan near the <b>levee</b>")
    html = client.get("/staff/queue?q=levee").get_data(as_text=True)
    assert "<mark>levee</mark>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;b&gt;<mark>levee</mark>&lt;/b&gt;" in html
    assert "No tips contain" in client.get("/staff/queue?q=airport").get_data(as_text=True)


def test_queue_filters_by_notice_and_status(app, client, session, detective, published_notice):
    submit(app, session, "on the notice", published_notice)
    submit(app, session, "general tip")
    page = client.get(f"/staff/queue?view=all&notice={published_notice.id}").get_data(as_text=True)
    assert "on the notice" in page and "general tip" not in page
    page = client.get("/staff/queue?view=all&status=closed").get_data(as_text=True)
    assert "on the notice" not in page and "general tip" not in page
    bad = client.get("/staff/queue?received_from=not-a-date")
    assert bad.status_code == 400


def test_tip_page_shows_notice_charges_and_timeline(
    app, client, session, detective, published_notice
):
    first = submit(app, session, "first sighting", published_notice)
    second = submit(app, session, "second sighting", published_notice)
    html = client.get(f"/staff/tips/{second.public_ref}").get_data(as_text=True)
    assert "La. R.S. 14:134" in html
    assert first.public_ref[:6] in html and "this tip" in html


def test_notice_page_lists_tips_by_status_and_follows(
    app, client, session, detective, published_notice
):
    tip = submit(app, session, "seen", published_notice)
    url = f"/staff/queue/notices/{published_notice.slug}"
    html = client.get(url).get_data(as_text=True)
    assert tip.public_ref[:6] in html and "New" in html
    refused = post(client, f"{url}/follow", {"email": "not an address"}, page=url)
    assert refused.status_code == 303
    assert session.scalar(select(NoticeFollow)) is None
    post(client, f"{url}/follow", {"email": "det@example.org"}, page=url)
    session.rollback()  # end this session's read snapshot to see the request's commit
    follow = session.scalar(select(NoticeFollow))
    assert (follow.staff_id, follow.email) == (detective.id, "det@example.org")
    assert follow.confirmed_at is None  # until the mailed link is used (test_follows.py)
    assert "Nothing is sent there until you confirm it" in client.get(url).get_data(as_text=True)
    post(client, f"{url}/unfollow", page=url)
    session.rollback()
    assert session.scalar(select(NoticeFollow)) is None


def test_reassign_is_for_supervisors_only(app, client, session, detective, make_staff):
    tip = submit(app, session, "x")
    other = make_staff(Role.DETECTIVE, "other")
    page = f"/staff/tips/{tip.public_ref}"
    response = client.post(
        f"{page}/reassign",
        data={
            "csrf_token": csrf_token(client, page),
            "reassign-to": other.id,
            "reassign-reason": "r",
        },
    )
    assert response.status_code == 403
    supervisor = make_staff(Role.SUPERVISOR, "sup")
    boss = app.test_client()
    sign_in(boss, supervisor.username)
    post(
        boss,
        f"{page}/reassign",
        {"reassign-to": other.id, "reassign-reason": "Knows the area"},
        page=page,
    )
    session.refresh(tip)
    assert tip.claimed_by_id == other.id


@pytest.mark.parametrize("role", [Role.PIO, Role.ADMIN, Role.CALL_TAKER])
def test_roles_that_do_not_read_tips_cannot_open_triage_pages(
    app, client, session, make_staff, published_notice, role
):
    tip = submit(app, session, "hidden text", published_notice)
    sign_in(client, make_staff(role).username)
    for url in [
        f"/staff/tips/{tip.public_ref}/export.json",
        f"/staff/tips/{tip.public_ref}/export.pdf",
        f"/staff/queue/notices/{published_notice.slug}",
        "/staff/queue?q=hidden",
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"hidden text" not in response.data


def test_release_from_the_tip_page_needs_a_reason(app, client, session, detective):
    tip = submit(app, session, "x")
    page = f"/staff/tips/{tip.public_ref}"
    post(client, f"{page}/claim", page=page)
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="release-csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    # Two reason fields on one page (status and release): ids stay unique for their labels.
    assert html.count('id="reason"') == 1 and html.count('id="release-reason"') == 1
    refused = client.post(f"{page}/release", data={"release-csrf_token": token})
    assert refused.status_code == 400
    assert re.search(r'id="release-reason-error">Say why.', refused.get_data(as_text=True))
    client.post(
        f"{page}/release", data={"release-csrf_token": token, "release-reason": "Off shift"}
    )
    session.refresh(tip)
    assert tip.claimed_by_id is None and tip.status is TipStatus.NEW
