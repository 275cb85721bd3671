"""Caching of public pages: validators, 304s without rendering, copies in memory invalidated on
every app server, and nothing cached that shows tip data or belongs to a signed-in person."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time

import pytest
from flask import template_rendered
from sqlalchemy import event, func, select
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url

from tipline import audit, create_app, db
from tipline.auth.models import Role
from tipline.db import ReadOnlySessionError
from tipline.notices import change_stamps
from tipline.notices.models import Charge, ContactLine, Notice, NoticeStatus, Severity
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.forms import new_form_token
from tipline.tips.models import Tip
from tipline.web import caching
from tipline.web.caching import form_shells
from tipline.web.caching.versions import versions_of

from ..conftest import app_config, csrf_token, publish_new_notice, receipt_code_on, sign_in
from .tipster import form_token

PUBLIC = "public, max-age=60, stale-while-revalidate=300"


@contextlib.contextmanager
def rendered_templates(app):
    names: list[str] = []

    def record(_sender, template, context, **_extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def other_app(app, tmp_path):
    """A second app server on the same database, with its own memory."""
    return create_app(app_config(app.config["DATABASE_URL"], tmp_path / "instance-2"))


def edit_caution(app, slug: str, text: str) -> None:
    with app.extensions["tipline.write_sessionmaker"]() as s:
        s.scalar(select(Notice).where(Notice.slug == slug)).caution = text
        s.commit()


@pytest.mark.parametrize("page", ["gallery", "notice"])
def test_public_pages_carry_validators_and_public_cache_control(client, published_notice, page):
    url = "/" if page == "gallery" else f"/notices/{published_notice.slug}"
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == PUBLIC
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) == 34
    assert response.last_modified is not None
    assert {v.strip() for v in response.headers["Vary"].split(",")} >= {"Accept-Language", "Cookie"}
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("page", ["gallery", "notice"])
def test_conditional_requests_get_304_without_rendering(app, published_notice, page):
    url = "/" if page == "gallery" else f"/notices/{published_notice.slug}"
    first = app.test_client().get(url)
    # A new app server with empty memory: the 304 must come from the version alone.
    fresh = create_app({**app.config, "INSTANCE_PATH": app.instance_path})
    client = fresh.test_client()
    with rendered_templates(fresh) as rendered:
        by_etag = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        by_date = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    fresh.extensions["tipline.engine"].dispose()
    assert rendered == []
    for response in (by_etag, by_date):
        assert response.status_code == 304
        assert response.get_data() == b""
        assert response.headers["ETag"] == first.headers["ETag"]
        assert response.headers["Cache-Control"] == PUBLIC


def test_a_kept_copy_is_sent_without_rendering_until_the_notice_changes(
    app, client, published_notice
):
    url = f"/notices/{published_notice.slug}"
    with rendered_templates(app) as rendered:
        first = client.get(url)
        second = client.get(url)
    assert rendered == ["public/notice.html"]
    assert second.get_data() == first.get_data()
    assert second.headers["ETag"] == first.headers["ETag"]

    edit_caution(app, published_notice.slug, "Armed. Call 911 at once.")
    with rendered_templates(app) as rendered:
        changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert rendered == ["public/notice.html"]
    assert "Armed. Call 911 at once." in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_a_change_through_one_app_server_invalidates_the_others_copies(
    app, published_notice, tmp_path
):
    second = other_app(app, tmp_path)
    try:
        one, two = app.test_client(), second.test_client()
        url = f"/notices/{published_notice.slug}"
        for client in (one, two):  # both servers keep a copy of both pages
            assert "Do not approach" in client.get(url).get_data(as_text=True)
            assert "Someone Else" not in client.get("/").get_data(as_text=True)
        before = two.get(url).headers["ETag"]

        edit_caution(app, published_notice.slug, "Changed on server one.")
        with app.extensions["tipline.write_sessionmaker"]() as s:
            publish_new_notice(s, subject_name="Someone Else")
            s.commit()

        with rendered_templates(second) as rendered:
            page = two.get(url)
            gallery = two.get("/").get_data(as_text=True)
        assert "Changed on server one." in page.get_data(as_text=True)
        assert page.headers["ETag"] != before
        assert "Someone Else" in gallery
        assert rendered == ["public/notice.html", "public/gallery.html"]
        assert one.get(url).headers["ETag"] == page.headers["ETag"]  # same stamp everywhere
    finally:
        second.extensions["tipline.engine"].dispose()


def test_charge_and_contact_line_changes_change_the_notice_version(
    client, session, published_notice
):
    url = f"/notices/{published_notice.slug}"
    etags = [client.get(url).headers["ETag"]]

    notice = session.get(Notice, published_notice.id)
    notice.charges[0].description = "Malfeasance in office (amended)"
    session.commit()
    etags.append(client.get(url).headers["ETag"])
    assert "(amended)" in client.get(url).get_data(as_text=True)

    notice.charges.append(
        Charge(citation="La. R.S. 14:108", description="Resisting", severity=Severity.MISDEMEANOR)
    )
    session.commit()
    etags.append(client.get(url).headers["ETag"])

    notice.charges.pop()  # removed (delete-orphan): the page must change back
    session.commit()
    etags.append(client.get(url).headers["ETag"])
    assert "Resisting" not in client.get(url).get_data(as_text=True)
    assert len(set(etags)) == 4


def test_a_default_contact_line_change_reaches_notices_without_their_own(client, session):
    notice = publish_new_notice(session, subject_name="No Lines Of Their Own")
    notice.contact_lines.clear()  # an older notice that shows the agency's default lines
    session.add(ContactLine(label="Front desk", phone="504-555-0100"))
    session.commit()
    url = f"/notices/{notice.slug}"
    before = client.get(url)
    assert "504-555-0100" in before.get_data(as_text=True)

    session.scalar(select(ContactLine)).phone = "504-555-0199"
    session.commit()
    after = client.get(url)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "504-555-0199" in after.get_data(as_text=True)


def test_a_resolved_notice_leaves_the_gallery_at_once(client, session, published_notice):
    assert published_notice.subject_name in client.get("/").get_data(as_text=True)
    from tipline.notices.models import NoticeStatus

    session.get(Notice, published_notice.id).status = NoticeStatus.RESOLVED
    session.commit()
    assert published_notice.subject_name not in client.get("/").get_data(as_text=True)


def test_each_language_has_its_own_copy_and_etag(app, client, published_notice):
    url = f"/notices/{published_notice.slug}"
    english = client.get(url, headers={"Accept-Language": "en-US,en;q=0.9"})
    spanish = client.get(url, headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert english.headers["ETag"] != spanish.headers["ETag"]
    keys = caching.store_of(app).entries()
    assert ("http://localhost" + url, "en") in keys
    assert ("http://localhost" + url, "es") in keys


@pytest.mark.parametrize("first", ["es", "vi", "en"])
def test_a_kept_page_is_never_served_in_another_language(app, published_notice, first):
    """Whoever comes first, each visitor gets their own language, also from the fast path."""
    client = app.test_client()
    url = f"/notices/{published_notice.slug}"
    expected = {"en": 'lang="en"', "es": 'lang="es"', "vi": 'lang="vi"'}
    order = [first, *(code for code in expected if code != first)]
    for _ in range(2):  # the second round comes from the kept copies
        for code in order:
            page = client.get(url, headers={"Accept-Language": code}).get_data(as_text=True)
            assert expected[code] in page.split(">", 2)[1], code
            chosen = client.get(f"{url}?lang={code}", headers={"Accept-Language": "en"})
            assert expected[code] in chosen.get_data(as_text=True).split(">", 2)[1], code


def test_requests_with_a_staff_session_are_private_and_never_kept(
    app, client, make_staff, published_notice
):
    make_staff(Role.DETECTIVE, "det")
    sign_in(client, "det")
    caching.store_of(app).clear()
    for url in ["/", f"/notices/{published_notice.slug}"]:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-cache"
        assert "Cookie" in response.headers["Vary"]
        assert "public" not in response.headers["Cache-Control"]
    assert caching.store_of(app).entries() == []
    # Someone without a cookie still gets the shared, public answer.
    anonymous = app.test_client().get("/")
    assert anonymous.headers["Cache-Control"] == PUBLIC


def test_a_flashed_message_never_reaches_a_kept_copy(app, client, make_staff, published_notice):
    make_staff(Role.PIO, "pio")
    sign_in(client, "pio")
    token = csrf_token(client, "/staff/password")
    # Signing out flashes "You are signed out." into the session cookie.
    client.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False)
    client.get("/")  # the flash is shown to its owner here, privately
    anonymous = app.test_client().get("/").get_data(as_text=True)
    assert "You are signed out" not in anonymous


def test_tip_forms_and_receipts_are_never_cached(app, client, published_notice):
    for url in ["/tip", f"/notices/{published_notice.slug}/tip"]:
        form = client.get(url)
        assert form.headers["Cache-Control"] == "no-store"
        assert "ETag" not in form.headers
        receipt = client.post(url, data={"csrf_token": csrf_token(client, url), "narrative": "x"})
        assert 'class="receipt-code"' in receipt.get_data(as_text=True)
        assert receipt.headers["Cache-Control"] == "no-store"
        assert "ETag" not in receipt.headers
    assert not any("tip" in path for path, _lang in caching.store_of(app).entries())


def test_unknown_notices_are_not_cached(app, client):
    response = client.get("/notices/nobody")
    assert response.status_code == 404
    assert "ETag" not in response.headers
    assert caching.store_of(app).entries() == []


def test_head_requests_get_the_same_validators(client, published_notice):
    url = f"/notices/{published_notice.slug}"
    head = client.head(url)
    assert head.status_code == 200
    assert head.headers["ETag"] == client.get(url).headers["ETag"]


@pytest.mark.parametrize("page", ["", "/notices/{slug}", "/notices/{slug}/tip", "/tip"])
def test_public_pages_and_empty_forms_do_not_wait_for_the_sqlite_write_lock(
    app, client, published_notice, page
):
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("the write lock is SQLite's; PostgreSQL readers never wait for writers")
    writer = sqlite3.connect(url.database, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of writing a tip
    try:
        result: dict[str, object] = {}

        def read() -> None:
            start = time.perf_counter()
            path = page.format(slug=published_notice.slug) or "/"
            result["status"] = client.get(path).status_code
            result["seconds"] = time.perf_counter() - start

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=10)
        assert result.get("status") == 200
        assert result["seconds"] < 5  # the busy timeout is 15 s: it did not queue behind us
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_read_only_request_cannot_write_not_even_an_audit_event(app):
    with app.test_request_context("/"):
        db.read_only_request()
        session = db.session()
        with pytest.raises(ReadOnlySessionError):
            audit.record(session, audit.SYSTEM, "test.event", "test", 1)
        session.rollback()
        with pytest.raises(ReadOnlySessionError):  # a tip's plain INSERT is refused too
            tips.submit_tip(session, tips.TipReport("seen"), receipts.receipt_key("k" * 40))
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Tip)) == 0
        session.add(ContactLine(label="x", phone="1"))
        with pytest.raises(ReadOnlySessionError):
            session.flush()


def test_an_unchanged_database_costs_no_query(app, client, published_notice, session):
    engine = app.extensions["tipline.engine"]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    url = f"/notices/{published_notice.slug}"
    client.get(url)
    statements.clear()
    assert client.get(url).status_code == 200
    # SQLite: PRAGMA data_version; PostgreSQL: no notification pending on the LISTEN
    # connection. Both on a connection of the reader's own, not through the engine.
    assert statements == []
    edit_caution(app, published_notice.slug, "Seen armed.")
    statements.clear()
    assert "Seen armed." in client.get(url).get_data(as_text=True)
    assert any("FROM notice" in s for s in statements)


def test_postgresql_servers_hear_of_changes_made_elsewhere(
    app, published_notice, tmp_path, monkeypatch
):
    if app.extensions["tipline.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite servers share the file and see its data_version instead")
    # Count no commit of this process: the change must arrive as a notification, as it does
    # from another machine.
    monkeypatch.setattr(change_stamps, "local_change_count", lambda: 0)
    second = other_app(app, tmp_path)
    try:
        two = second.test_client()
        url = f"/notices/{published_notice.slug}"
        before = two.get(url).headers["ETag"]
        assert two.get(url).headers["ETag"] == before  # kept, no notification yet
        edit_caution(app, published_notice.slug, "Changed on another server.")
        deadline = time.monotonic() + 2
        while "Changed on another server." not in two.get(url).get_data(as_text=True):
            assert time.monotonic() < deadline, "the notification never arrived"
            time.sleep(0.01)
    finally:
        second.extensions["tipline.engine"].dispose()


def test_a_kept_page_is_answered_without_entering_flask_with_the_same_headers(
    app, client, published_notice
):
    entered: list[str] = []
    app.before_request(lambda: entered.append("flask"))
    url = f"/notices/{published_notice.slug}"
    first = client.get(url)
    second = client.get(url)
    head = client.head(url)
    assert entered == ["flask"]  # only the first request reached the view layer
    assert second.get_data() == first.get_data()
    assert head.get_data() == b""
    for response in (second, head):
        assert response.headers == first.headers  # CSP, nosniff, ETag, Cache-Control, Vary...
    assert second.headers["Content-Security-Policy"].startswith("default-src 'self'")

    # A cookie, a condition or a change always goes through Flask.
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "x")
    assert client.get(url).headers["Cache-Control"] == "private, no-cache"
    assert entered == ["flask"] * 3


def test_kept_pages_are_per_scheme_and_host(app, client, published_notice):
    url = f"/notices/{published_notice.slug}"
    for _ in range(2):
        secure = client.get(url, base_url="https://tips.example.org")
        onion = client.get(url, base_url="http://abcdefghijklmnop.onion")
    assert "Strict-Transport-Security" in secure.headers
    assert "Strict-Transport-Security" not in onion.headers


def tokens_on(page: str) -> tuple[str, str]:
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return csrf, form_token(page)


def test_a_notice_tip_form_is_rendered_once_and_each_visitor_gets_fresh_tokens(
    app, published_notice, session
):
    """The blank form of a notice is kept with its two tokens as slots: visitors without a
    session get it with tokens of their own, and every one of those pages sends a tip."""
    url = f"/notices/{published_notice.slug}/tip"
    visitors = [app.test_client() for _ in range(3)]
    with rendered_templates(app) as rendered:
        pages = [visitor.get(url) for visitor in visitors]
    assert rendered == ["public/tip_form.html"]
    texts = [page.get_data(as_text=True) for page in pages]
    tokens = [tokens_on(text) for text in texts]
    assert len({csrf for csrf, _ in tokens}) == 3 and len({ft for _, ft in tokens}) == 3
    for page, text in zip(pages, texts, strict=True):
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" in page.headers  # the session that holds the CSRF secret
        assert caching.CSRF_SLOT not in text and caching.FORM_TOKEN_SLOT not in text
        assert published_notice.subject_name in text
    for n, (visitor, (csrf, token)) in enumerate(zip(visitors, tokens, strict=True)):
        sent = visitor.post(
            url, data={"csrf_token": csrf, "form_token": token, "narrative": f"Tip {n}"}
        )
        assert sent.status_code == 200 and receipt_code_on(sent.get_data(as_text=True))
    # A token is good only with the session it was issued to.
    stranger = app.test_client()
    stranger.get("/tip")
    stolen = {"csrf_token": tokens[0][0], "form_token": new_form_token(), "narrative": "x"}
    assert stranger.post(url, data=stolen).status_code == 400
    assert {t.narrative for t in session.scalars(select(Tip))} == {"Tip 0", "Tip 1", "Tip 2"}


def test_a_kept_tip_form_follows_the_notice_and_its_language(app, published_notice):
    url = f"/notices/{published_notice.slug}/tip"
    english = app.test_client().get(url).get_data(as_text=True)
    spanish = app.test_client().get(url, headers={"Accept-Language": "es"})
    assert "¿Qué vio?" in spanish.get_data(as_text=True) and "¿Qué vio?" not in english
    with app.extensions["tipline.write_sessionmaker"]() as s:
        s.scalar(
            select(Notice).where(Notice.slug == published_notice.slug)
        ).subject_name = "Renamed Person"
        s.commit()
    assert "Renamed Person" in app.test_client().get(url).get_data(as_text=True)
    with app.extensions["tipline.write_sessionmaker"]() as s:
        s.scalar(
            select(Notice).where(Notice.slug == published_notice.slug)
        ).status = NoticeStatus.RESOLVED
        s.commit()
    assert app.test_client().get(url).status_code == 404  # no more tips on a resolved notice


def test_a_visitor_with_a_session_gets_the_form_rendered_afresh(app, client, published_notice):
    url = f"/notices/{published_notice.slug}/tip"
    client.get(url)  # the visitor now has a session
    app.test_client().get(url)  # and the blank form is kept
    with rendered_templates(app) as rendered:
        again = client.get(url)
    assert rendered == ["public/tip_form.html"]
    assert caching.CSRF_SLOT not in again.get_data(as_text=True)


def test_a_token_that_could_break_out_of_the_page_is_refused():
    with pytest.raises(ValueError):
        form_shells.token_bytes('abc" onfocus="alert(1)')
    assert form_shells.token_bytes("IjE2.ZmFr-ZQ_x") == b"IjE2.ZmFr-ZQ_x"


def test_disposing_of_the_engine_closes_the_change_signals_own_connection(
    app, client, published_notice
):
    """Each app holds one connection of its own for the change signal; an app whose engine is
    disposed of must give it back (tests build many apps: PostgreSQL once ran out of clients)."""
    signal = versions_of(app).signal
    assert client.get(f"/notices/{published_notice.slug}").status_code == 200
    engine = app.extensions["tipline.engine"]
    if engine.dialect.name == "sqlite":
        assert signal.connected
        engine.dispose()
        assert not signal.connected
        return
    backend = signal.backend_pid
    alive = sql("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    with engine.connect() as connection:
        assert connection.scalar(alive, {"pid": backend}) == 1
    engine.dispose()
    assert not signal.connected
    deadline = time.monotonic() + 5
    with engine.connect() as connection:
        while connection.scalar(alive, {"pid": backend}):
            assert time.monotonic() < deadline, "the LISTEN connection is still open"
            time.sleep(0.05)
            connection.rollback()  # a fresh snapshot of pg_stat_activity
    # The app goes on working: the next read opens the signal again.
    assert client.get(f"/notices/{published_notice.slug}").status_code == 200
    assert signal.connected
