"""Staff authenticator secrets are sealed under the data key: a copy of the database does not
yield anyone's second factor. Secrets stored in clear before that keep working, are sealed at
the next sign-in or by `tipline user seal-totp`, and `tipline audit verify` counts those left.
A wrong data key fails sign-in with a plain message and counts nothing against the account.
On SQLite and PostgreSQL."""

import base64
import glob
import os
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import make_url, select, text

from tipline import create_app
from tipline.audit.models import AuditEvent
from tipline.auth import services as auth
from tipline.auth import totp
from tipline.auth.models import LoginThrottle, Role, StaffUser
from tipline.db import utcnow
from tipline.sealing import SealBroken

from ..conftest import DATA_KEY, PASSWORD, SECRET, app_config, csrf_token

KEYS = auth.SignInKeys.from_secret(SECRET, DATA_KEY)
OTHER_KEY = base64.b64encode(b"another data key, 32 bytes long!").decode()


def raw_row(session, user_id):
    session.rollback()
    return session.execute(
        text("SELECT totp_secret, totp_sealed FROM staff_user WHERE id = :id"), {"id": user_id}
    ).one()


def make_legacy(session, user, secret=None):
    """What an account enrolled before secrets were sealed looks like in the database."""
    secret = secret or pyotp.random_base32()
    session.execute(
        text("UPDATE staff_user SET totp_secret = :s, totp_sealed = NULL WHERE id = :id"),
        {"s": secret, "id": user.id},
    )
    session.commit()
    session.expire_all()
    return secret


def code_for(secret, minutes_ahead=5):
    when = utcnow() + timedelta(minutes=minutes_ahead)  # past the step used at enrolment
    return pyotp.TOTP(secret).at(when), when


def test_a_copy_of_the_database_does_not_hold_the_secret(app, session, make_staff, database_url):
    user = make_staff(Role.DETECTIVE, "det")
    secret = totp.secret_of(user, DATA_KEY)
    assert secret and len(secret) == 32
    clear, sealed = raw_row(session, user.id)
    assert clear is None and sealed is not None
    assert secret.encode() not in bytes(sealed)
    if database_url.startswith("sqlite"):
        # The files themselves, as a backup would copy them (the WAL included).
        path = make_url(database_url).database
        for name in glob.glob(f"{path}*"):
            with open(name, "rb") as f:
                assert secret.encode() not in f.read(), os.path.basename(name)
    else:
        dump = session.execute(text("SELECT staff_user::text FROM staff_user")).scalars().all()
        assert all(secret not in row for row in dump)
    # Sign-in still works with the sealed secret.
    code, when = code_for(secret)
    assert auth.sign_in(session, "det", PASSWORD, code, KEYS, now=when).outcome == "signed_in"


def test_a_sealed_secret_opens_only_for_its_own_account(session, make_staff):
    first, second = make_staff(Role.DETECTIVE, "one"), make_staff(Role.DETECTIVE, "two")
    second.totp_sealed = first.totp_sealed  # copied across rows by someone with the database
    with pytest.raises(SealBroken):
        totp.secret_of(second, DATA_KEY)


def test_a_legacy_clear_secret_still_signs_in_and_is_sealed_afterwards(
    app, session, make_staff, runner
):
    user = make_staff(Role.DETECTIVE, "det")
    secret = make_legacy(session, user)
    assert raw_row(session, user.id) == (secret, None)
    assert totp.clear_secret_count(session) == 1
    result = runner.invoke(args=["audit", "verify"])
    assert "1 staff authenticator secret(s) are stored in clear" in result.output
    session.rollback()  # a fresh snapshot after the command's own write

    code, when = code_for(secret)
    user = session.get(StaffUser, user.id)
    assert auth.sign_in(session, "det", PASSWORD, code, KEYS, now=when).outcome == "signed_in"
    session.commit()
    clear, sealed = raw_row(session, user.id)
    assert clear is None and sealed is not None and secret.encode() not in bytes(sealed)
    assert totp.secret_of(session.get(StaffUser, user.id), DATA_KEY) == secret
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id))
    assert "staff.totp_sealed" in list(actions)
    assert "stored in clear" not in runner.invoke(args=["audit", "verify"]).output
    session.rollback()
    # The same authenticator goes on working.
    later_code, later = code_for(secret, minutes_ahead=6)
    assert auth.sign_in(session, "det", PASSWORD, later_code, KEYS, now=later).user is not None


def test_the_cli_seals_every_clear_secret(app, session, make_staff, runner):
    secrets = {}
    for name in ("a-det", "b-sup"):
        user = make_staff(Role.DETECTIVE, name)
        secrets[user.id] = make_legacy(session, user)
    result = runner.invoke(args=["user", "seal-totp"])
    assert result.exit_code == 0, result.output
    assert "Sealed 2 authenticator secret(s)" in result.output
    for user_id, secret in secrets.items():
        clear, sealed = raw_row(session, user_id)
        assert clear is None and secret.encode() not in bytes(sealed)
        assert totp.secret_of(session.get(StaffUser, user_id), DATA_KEY) == secret
    assert totp.clear_secret_count(session) == 0
    again = runner.invoke(args=["user", "seal-totp"])
    assert again.exit_code == 0 and "Sealed 0" in again.output


@pytest.fixture
def wrong_key_app(app, database_url, tmp_path):
    other = create_app(app_config(database_url, tmp_path / "instance", DATA_KEY=OTHER_KEY))
    yield other
    other.extensions["tipline.engine"].dispose()


def test_a_wrong_data_key_fails_sign_in_clearly_and_counts_nothing(
    wrong_key_app, session, make_staff, caplog
):
    user = make_staff(Role.DETECTIVE, "det")
    secret = totp.secret_of(user, DATA_KEY)
    client = wrong_key_app.test_client()
    token = csrf_token(client, "/staff/login")
    response = client.post(
        "/staff/login",
        data={
            "csrf_token": token,
            "username": "det",
            "password": PASSWORD,
            "code": pyotp.TOTP(secret).now(),
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "its data key is not the one they were sealed with" in page
    assert "did not open" in caplog.text and "TIPLINE_DATA_KEY" in caplog.text
    session.rollback()
    assert all(row.failures == 0 for row in session.scalars(select(LoginThrottle)))
    # The CLI says the same, names the account, and exits 1.
    result = wrong_key_app.test_cli_runner().invoke(args=["user", "seal-totp"])
    assert result.exit_code == 1 and "det" in result.output and "TIPLINE_DATA_KEY" in result.output


def test_a_wrong_data_key_during_enrolment_is_a_plain_503(wrong_key_app, session):
    """An account whose enrolment started (its new secret sealed) under the right key."""
    user = auth.create_user(session, "newbie", PASSWORD, Role.DETECTIVE, "test")
    totp.start_enrolment(session, user, DATA_KEY)
    session.commit()
    client = wrong_key_app.test_client()
    token = csrf_token(client, "/staff/login")
    signed = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": "newbie", "password": PASSWORD, "code": ""},
    )
    assert signed.status_code == 303 and signed.headers["Location"].endswith("/staff/enrol")
    page = client.get("/staff/enrol")
    assert page.status_code == 503
    assert "its data key is not the one they were sealed with" in page.get_data(as_text=True)
