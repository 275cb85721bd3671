"""Staff sign-in: the authenticator at first sign-in, recovery codes, sessions that really end,
timeouts, password changes and the cookie itself."""

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from tipline import audit, create_app
from tipline.auth import services as auth
from tipline.auth import totp
from tipline.auth.models import RecoveryCode, Role, StaffSession, StaffUser

from ..conftest import PASSWORD, SECRET, csrf_token, sign_in

NEW_PASSWORD = "a brand new long passphrase for tests"


def _post_login(client, username, password=PASSWORD, code=""):
    token = csrf_token(client, "/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": password, "code": code},
    )


def _user(session, username) -> StaffUser:
    session.rollback()  # end the read transaction and forget loaded rows: see the requests' work
    session.expire_all()
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


def _enrol_through_the_page(client, session, username):
    page = client.get("/staff/enrol").get_data(as_text=True)
    key = re.search(r'<p class="totp-key"><code>([A-Z2-7 ]+)</code>', page).group(1)
    code = pyotp.TOTP(key.replace(" ", "")).now()
    token = csrf_token(client, "/staff/enrol")
    return client.post("/staff/enrol", data={"csrf_token": token, "code": code})


def test_first_sign_in_enrols_an_authenticator_with_a_qr_code_and_shows_recovery_codes_once(
    client, session
):
    auth.create_user(session, "newdet", PASSWORD, Role.DETECTIVE, "test")
    session.commit()
    response = _post_login(client, "newdet")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/enrol"
    # Half signed in: nothing but the enrolment page opens.
    assert client.get("/staff/queue").status_code == 303
    assert client.get("/staff/").status_code == 303

    page = client.get("/staff/enrol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert '<img src="data:image/svg+xml' in html  # QR inline as data: (CSP allows img data:)
    assert "<script" not in html and "style=" not in html
    secret = totp.secret_of(_user(session, "newdet"), client.application.config["DATA_KEY"])
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html

    token = csrf_token(client, "/staff/enrol")
    wrong = client.post("/staff/enrol", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400
    assert "That code did not match" in wrong.get_data(as_text=True)

    done = _enrol_through_the_page(client, session, "newdet")
    codes = re.findall(r"<li><code>([a-z0-9-]{14})</code></li>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10
    assert done.headers["Cache-Control"] == "no-store"
    assert client.get("/staff/queue").status_code == 200
    # Stored only as keyed hashes.
    user = _user(session, "newdet")
    stored = session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
    ).all()
    assert len(stored) == 10
    assert all(code.encode() not in h for code in codes for h in stored)
    assert user.totp_enrolled
    actions = [e.action for e in audit.events_for(session, "staff_user", user.id)]
    assert "staff.totp_enrolled" in actions
    # Enrolment does not start again for an enrolled account.
    assert client.get("/staff/enrol").status_code == 303


def test_an_enrolled_account_needs_its_code(client, make_staff):
    make_staff(Role.DETECTIVE, "det")
    for code in ["", "123456", "abc"]:
        response = _post_login(client, "det", code=code)
        assert response.status_code == 401, code
    assert client.get("/staff/queue").status_code == 303


def test_a_recovery_code_signs_in_once(app, client, session):
    from ..conftest import enrol_authenticator

    user = auth.create_user(session, "det", PASSWORD, Role.DETECTIVE, "test")
    codes = enrol_authenticator(session, user, app.secret_key)
    session.commit()
    assert _post_login(client, "det", code=codes[0].upper()).status_code == 303
    assert client.get("/staff/queue").status_code == 200
    again = app.test_client()
    assert _post_login(again, "det", code=codes[0]).status_code == 401
    assert _post_login(again, "det", code=codes[1]).status_code == 303


def test_sign_out_ends_the_session_on_the_server(app, client, session, make_staff):
    user = make_staff(Role.DETECTIVE)
    sign_in(client, user.username)
    token = csrf_token(client, "/staff/queue")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    ended = session.scalars(select(StaffSession).where(StaffSession.user_id == user.id)).all()
    assert [(s.ended_reason, s.ended_at is not None) for s in ended] == [("logout", True)]


def test_a_password_change_ends_every_session_and_the_new_password_works(app, session, make_staff):
    make_staff(Role.DETECTIVE, "det")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "det")
    sign_in(elsewhere, "det")
    token = csrf_token(here, "/staff/password")
    response = here.post(
        "/staff/password",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "new": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/staff/login"
    assert here.get("/staff/queue").status_code == 303
    assert elsewhere.get("/staff/queue").status_code == 303
    assert sign_in(app.test_client(), "det").status_code == 401
    assert sign_in(app.test_client(), "det", NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("wrong current password", NEW_PASSWORD, "Your current password is not right."),
        (PASSWORD, "short", "at least 12 characters"),
        (PASSWORD, "password1234", "too easy to guess"),
        (PASSWORD, "qwerty123456", "too easy to guess"),
    ],
)
def test_password_change_refuses_a_wrong_current_a_short_or_a_common_password(
    client, make_staff, current, new, message
):
    sign_in(client, make_staff(Role.PIO).username)
    token = csrf_token(client, "/staff/password")
    response = client.post(
        "/staff/password",
        data={"csrf_token": token, "current": current, "new": new, "confirm": new},
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert client.get("/staff/password").status_code == 200  # still signed in


def _age_session(session, user, **shift):
    session.rollback()
    session.expire_all()
    row = session.scalar(select(StaffSession).where(StaffSession.user_id == user.id))
    for column, delta in shift.items():
        setattr(row, column, getattr(row, column) - delta)
    session.commit()
    return row


def test_idle_session_ends_after_thirty_minutes(client, session, make_staff):
    user = make_staff(Role.DETECTIVE)
    sign_in(client, user.username)
    _age_session(session, user, last_seen_at=timedelta(minutes=29))
    assert client.get("/staff/queue").status_code == 200
    _age_session(session, user, last_seen_at=timedelta(minutes=31))
    assert client.get("/staff/queue").status_code == 303
    session.rollback()
    session.expire_all()
    row = session.scalar(select(StaffSession).where(StaffSession.user_id == user.id))
    assert row.ended_reason == "idle_timeout"


def test_session_ends_twelve_hours_after_sign_in_however_busy(client, session, make_staff):
    user = make_staff(Role.DETECTIVE)
    sign_in(client, user.username)
    _age_session(session, user, created_at=timedelta(hours=12, minutes=1))
    assert client.get("/staff/queue").status_code == 303


def test_production_cookie_is_host_prefixed_secure_http_only_and_same_site(client, make_staff):
    response = sign_in(client, make_staff(Role.DETECTIVE).username)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-tipline=")
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"]:
        assert attribute in cookie
    assert "Domain=" not in cookie


def test_development_cookie_works_over_plain_http(tmp_path, database_url):
    app = create_app(
        {"ENV": "development", "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    )
    assert app.config["SESSION_COOKIE_NAME"] == "tipline"
    assert app.config["SESSION_COOKIE_SECURE"] is False
    app.extensions["tipline.engine"].dispose()


def test_production_config_keeps_the_host_prefix(tmp_path):
    app = create_app({"SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-tipline"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_guessing_the_enrolment_code_is_throttled_like_a_sign_in(client, session):
    auth.create_user(session, "newdet", PASSWORD, Role.DETECTIVE, "test")
    session.commit()
    _post_login(client, "newdet")
    token = csrf_token(client, "/staff/enrol")
    statuses = [
        client.post("/staff/enrol", data={"csrf_token": token, "code": "000000"}).status_code
        for _ in range(6)
    ]
    assert statuses == [400] * 5 + [303]
    assert client.get("/staff/enrol").status_code == 303  # the half-open session is gone
    assert _post_login(client, "newdet").status_code == 429


def test_wrong_current_passwords_are_throttled_and_audited(app, client, session, make_staff):
    from tipline.audit import services as audit_services

    app.config["LOGIN_MAX_FAILURES"] = 2
    user = make_staff(Role.PIO, "pio")
    sign_in(client, user.username)

    def attempt(current: str) -> str:
        token = csrf_token(client, "/staff/password")
        data = {"csrf_token": token, "current": current, "new": NEW_PASSWORD}
        return client.post("/staff/password", data={**data, "confirm": NEW_PASSWORD}).get_data(
            as_text=True
        )

    for _ in range(3):
        assert "Your current password is not right." in attempt("a wrong guess!!")
    # Locked now: even the right current password is refused for a while.
    assert "Too many wrong passwords" in attempt(PASSWORD)
    session.expire_all()
    events = audit_services.events_for(session, "staff_user", user.id)
    failures = [e for e in events if e.action == "staff.login_failed"]
    assert len(failures) == 3 and failures[0].details["reason"] == "current_password"
    assert any(e.action == "staff.locked_out" for e in events)
