"""Database outages: the tipster's words are kept and shown back, nothing leaks into logs, the
tip form still opens, public pages serve their last good copy, and no error page reads the
database."""

from __future__ import annotations

import logging
import re

from sqlalchemy import make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from tipline import db
from tipline.tips.models import Tip
from tipline.web import outage

from ..conftest import csrf_token
from .conftest import staff_client
from .tipster import form_token, open_receipt, send_tip

NARRATIVE = "Saw him at the blue laundromat on Elysian Fields at noon"


def refusing_engine(url: str):
    """An engine of the same dialect whose every connection attempt is refused."""
    if make_url(url).get_backend_name() == "sqlite":
        # Under /dev/null: no directory can ever be made there, even by root.
        return db.make_engine("sqlite:////dev/null/refused.sqlite3")
    return db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/refused")


def take_database_down(app) -> None:
    """Point every session and connection of ``app`` at a database that refuses them."""
    engine = refusing_engine(app.config["DATABASE_URL"])
    app.extensions["tipline.engine"].dispose()
    app.extensions["tipline.engine"] = engine
    for name, options in (
        ("tipline.sessionmaker", {}),
        ("tipline.write_sessionmaker", db.WRITE_OPTIONS),
        ("tipline.read_sessionmaker", {}),
    ):
        maker = app.extensions[name]
        app.extensions[name] = sessionmaker(
            bind=engine.execution_options(**options) if options else engine,
            expire_on_commit=False,
            info=maker.kw.get("info", {}),
        )


def _post_tip(client, url: str, page: str, **headers):
    data = {
        "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1),
        "form_token": form_token(page),
        "narrative": NARRATIVE,
        "seen_where": "Elysian Fields",
    }
    return client.post(url, data=data, headers=headers)


def test_tip_post_with_database_refusing_gets_not_saved_page_with_text(app, client, session):
    page = client.get("/tip").get_data(as_text=True)
    take_database_down(app)
    response = _post_tip(client, "/tip", page)
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Cache-Control"] == "no-store"
    assert "Your tip was not saved" in body
    assert NARRATIVE in body and "Elysian Fields</textarea>" in body
    assert "504-822-1111" in body or "contact-lines" in body  # the remembered contact lines


def test_not_saved_page_is_in_the_visitors_language(app, client):
    page = client.get("/tip", headers={"Accept-Language": "es"}).get_data(as_text=True)
    take_database_down(app)
    response = _post_tip(client, "/tip", page, **{"Accept-Language": "es"})
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert '<html lang="es">' in body and "Su aviso no se guardó" in body
    assert NARRATIVE in body


def test_notice_tip_post_during_outage_keeps_text_and_names_the_notice(
    app, client, published_notice
):
    url = f"/notices/{published_notice.slug}/tip"
    page = client.get(url).get_data(as_text=True)
    take_database_down(app)
    response = _post_tip(client, url, page)
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert NARRATIVE in body and published_notice.subject_name in body
    assert "Your tip was not saved" in body


def test_tip_form_still_opens_during_outage_and_says_tips_cannot_be_saved(
    app, client, published_notice
):
    url = f"/notices/{published_notice.slug}/tip"
    assert client.get(url).status_code == 200
    take_database_down(app)
    # The general form reads its contact lines and meets the outage; the notice's form,
    # kept in memory, needs no query and knows of the outage from that.
    for fresh_url in ("/tip", url):
        response = app.test_client().get(fresh_url)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, fresh_url
        assert "Tips cannot be saved right now" in body
        assert 'name="narrative"' in body and 'name="csrf_token"' in body
    assert published_notice.subject_name in app.test_client().get(url).get_data(as_text=True)


def test_answer_post_during_outage_keeps_text(app, client):
    _, code = send_tip(client)
    assert open_receipt(client, code).status_code == 303
    token = csrf_token(client, "/receipt")
    take_database_down(app)
    response = client.post(
        "/receipt/answer", data={"csrf_token": token, "body": "She wore a red hood."}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert "Your answer was not saved" in body and "She wore a red hood." in body


def test_public_pages_serve_their_last_good_copy(app, client, published_notice):
    urls = ["/", f"/notices/{published_notice.slug}"]
    kept = {url: client.get(url).get_data() for url in urls}
    take_database_down(app)
    for url in urls:
        response = app.test_client().get(url)
        assert response.status_code == 200, url
        assert response.get_data() == kept[url]


def test_pages_without_a_copy_get_a_plain_503(app, client, published_notice):
    take_database_down(app)
    page = client.get(f"/notices/{published_notice.slug}")
    assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    assert "We cannot reach our records right now" in page.get_data(as_text=True)
    api = client.get("/api/v1/notices")
    assert api.status_code in (503, 404)
    if api.status_code == 503:
        assert api.is_json
    staff = client.get("/staff/login")
    assert staff.status_code in (200, 503)


def test_error_pages_read_nothing_from_the_database(app, client, published_notice):
    """With every connection refused, the 503 page still renders: it has nothing to read."""
    take_database_down(app)
    response = client.get(f"/notices/{published_notice.slug}/photos/1/display")
    assert response.status_code == 503
    assert "Something went wrong" not in response.get_data(as_text=True)


def test_failing_insert_puts_no_tip_text_in_the_logs(app, client, session, caplog):
    """A tip whose INSERT the database refuses: the "not saved" page, and none of the
    tipster's words in any log record (statement parameters are hidden)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        session.execute(
            text(
                "CREATE TRIGGER refuse_tips BEFORE INSERT ON tip "
                "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
            )
        )
    else:
        session.execute(
            text(
                "CREATE FUNCTION refuse_tips() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by test'; END $$"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse_tips BEFORE INSERT ON tip "
                "FOR EACH ROW EXECUTE FUNCTION refuse_tips()"
            )
        )
    session.commit()
    caplog.set_level(logging.DEBUG)
    try:
        response, code = send_tip(client, narrative=NARRATIVE, landmark="Blue laundromat")
    finally:
        # PostgreSQL tests share one schema: the trigger must not outlive this test.
        session.rollback()
        session.execute(text("DROP TRIGGER refuse_tips" + ("" if sqlite else " ON tip")))
        if not sqlite:
            session.execute(text("DROP FUNCTION refuse_tips()"))
        session.commit()
    assert code is None and response.status_code == 503
    assert NARRATIVE in response.get_data(as_text=True)  # kept for the tipster...
    logged = caplog.text + "".join(
        str(r.exc_info[1]) for r in caplog.records if r.exc_info and r.exc_info[1]
    )
    assert "refused by test" in logged  # ...the failure is logged...
    assert "laundromat" not in logged and "Elysian" not in logged  # ...without the words
    assert "parameters hidden" in logged.lower() or "[SQL" in logged
    assert session.scalar(select(Tip.id)) is None


def test_every_engine_hides_parameters(app, database_url):
    assert app.extensions["tipline.engine"].hide_parameters
    engine = db.make_engine(database_url, writers_lock=False)
    assert engine.hide_parameters
    engine.dispose()


def test_database_lost_between_reading_the_notice_and_saving_the_tip(
    app, client, published_notice, monkeypatch
):
    """The notice was read, then the database went away mid-save: the notice's attributes
    are expired by the rollback, and the page must be drawn without going back for them."""
    from tipline.tips import services as tips

    url = f"/notices/{published_notice.slug}/tip"
    page = client.get(url).get_data(as_text=True)

    def lose_the_database(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(tips, "submit_tip", lose_the_database)
    monkeypatch.setattr(outage.notices, "contact_lines_for", lose_the_database)
    response = _post_tip(client, url, page)
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and "Your tip was not saved" in body
    assert NARRATIVE in body and "504-822-1111" in body


def test_a_call_saved_during_an_outage_comes_back_in_the_call_form_with_its_text(
    app, make_staff, published_notice
):
    from tipline.auth.models import Role

    taker = staff_client(app, make_staff, Role.CALL_TAKER, "ct")
    page = taker.get("/staff/calls/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(taker, "/staff/calls/new"),
        "form_token": form_token(page),
        "disposition": "tip_taken",
        "notice": published_notice.slug,
        "narrative": NARRATIVE,
        "vehicle_plate": "ABC 123",
    }
    take_database_down(app)
    response = taker.post("/staff/calls/new", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert "The call was not saved" in body and "cannot be reached" in body
    assert re.search(r"<textarea[^>]*>\s*" + NARRATIVE, body)
    assert re.search(r'name="vehicle_plate"[^>]*value="ABC 123"', body)
    assert re.search(rf'<option selected value="{published_notice.slug}">', body)
    assert form_token(body) == data["form_token"]  # sent again, it makes one tip at most
    assert data["csrf_token"] in body


def test_a_staff_note_sent_during_an_outage_comes_back_to_send_again(app, session, make_staff):
    from tipline.auth.models import Role
    from tipline.tips import receipts
    from tipline.tips import services as tips

    tip, _ = tips.submit_tip(
        session, tips.TipReport("Seen on Canal"), receipts.receipt_key(app.secret_key)
    )
    session.commit()
    detective = staff_client(app, make_staff, Role.DETECTIVE, "det")
    url = f"/staff/tips/{tip.public_ref}"
    token = csrf_token(detective, url)
    take_database_down(app)
    note = "Called the depot: footage kept until Friday"
    response = detective.post(f"{url}/notes", data={"csrf_token": token, "body": note})
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert "Not saved" in body and "Something went wrong" not in body
    assert f'<form method="post" action="{url}/notes"' in body
    assert re.search(r'<textarea id="kept-1" name="body"[^>]*>' + note + "</textarea>", body)
    assert f'name="csrf_token" value="{token}"' in body
    assert f'href="{url}"' in body  # back to the tip page


def test_a_sign_in_during_an_outage_never_writes_the_password_back(app, client, make_staff):
    from tipline.auth.models import Role

    make_staff(Role.DETECTIVE, "det")
    token = csrf_token(client, "/staff/login")
    take_database_down(app)
    response = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": "det", "password": "hunter2-secret", "code": ""},
    )
    assert response.status_code == 503
    assert "hunter2-secret" not in response.get_data(as_text=True)
