"""Administrators' screens: accounts are created, re-roled, disabled and reset here only."""

import re

import pytest
from sqlalchemy import select

from tipline import audit
from tipline.auth.models import Role, StaffUser

from ..conftest import csrf_token, sign_in, unit_named


def _fresh(session, username):
    session.rollback()
    session.expire_all()
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


def test_admin_adds_an_account_whose_first_password_is_shown_once_and_works(
    app, admin_client, session
):
    homicide = unit_named(session, "Homicide")
    session.commit()
    token = csrf_token(admin_client, "/staff/admin/staff/new")
    response = admin_client.post(
        "/staff/admin/staff/new",
        data={"csrf_token": token, "username": "jdoe", "role": "detective", "unit": homicide.id},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<p class="totp-key"><code>([0-9a-f-]+)</code>', page).group(1)
    user = _fresh(session, "jdoe")
    assert (user.role, user.unit.name, user.totp_enrolled) == (Role.DETECTIVE, "Homicide", False)
    assert password not in user.password_hash
    assert "jdoe" in admin_client.get("/staff/admin/staff").get_data(as_text=True)
    assert sign_in(app.test_client(), "jdoe", password).status_code == 303


def test_a_taken_username_is_refused_with_a_message(admin_client, make_staff):
    make_staff(Role.PIO, "pio")
    token = csrf_token(admin_client, "/staff/admin/staff/new")
    response = admin_client.post(
        "/staff/admin/staff/new", data={"csrf_token": token, "username": "pio", "role": "pio"}
    )
    assert response.status_code == 400
    assert "There is already a staff account named" in response.get_data(as_text=True)


def test_re_role_takes_effect_at_once_and_is_audited(admin_client, session, detective_elsewhere):
    detective, theirs, url = detective_elsewhere
    assert theirs.get("/staff/queue").status_code == 200
    token = csrf_token(admin_client, url)
    response = admin_client.post(f"{url}/role", data={"csrf_token": token, "role": "pio"})
    assert response.status_code == 303
    assert theirs.get("/staff/queue").status_code == 403
    changed = audit.events_for(session, "staff_user", detective.id)[-1]
    assert changed.action == "staff.role_changed"
    assert changed.details["after"] == {"role": "pio", "unit": None}


def test_disabling_signs_the_person_out_everywhere(app, admin_client, detective_elsewhere):
    _detective, theirs, url = detective_elsewhere
    token = csrf_token(admin_client, url)
    # Without the confirmation box nothing happens.
    admin_client.post(f"{url}/active", data={"csrf_token": token})
    assert theirs.get("/staff/queue").status_code == 200
    confirmed = {"csrf_token": token, "confirm": "y"}
    assert admin_client.post(f"{url}/active", data=confirmed).status_code == 303
    assert theirs.get("/staff/queue").status_code == 303
    assert sign_in(app.test_client(), "det").status_code == 401
    admin_client.post(f"{url}/active", data={"csrf_token": token, "active": "y"})
    assert sign_in(app.test_client(), "det").status_code == 303


def test_an_admin_cannot_disable_or_demote_themself(admin_client, session):
    me = _fresh(session, "boss")
    url = f"/staff/admin/staff/{me.id}"
    token = csrf_token(admin_client, url)
    admin_client.post(f"{url}/active", data={"csrf_token": token, "confirm": "y"})
    admin_client.post(f"{url}/role", data={"csrf_token": token, "role": "detective"})
    me = _fresh(session, "boss")
    assert me.active and me.role is Role.ADMIN
    assert "You cannot" in admin_client.get(url).get_data(as_text=True)


def test_reset_authenticator_sends_the_next_sign_in_through_enrolment(
    app, admin_client, session, detective_elsewhere
):
    _detective, theirs, url = detective_elsewhere
    token = csrf_token(admin_client, url)
    admin_client.post(f"{url}/reset-totp", data={"csrf_token": token})  # not confirmed
    assert theirs.get("/staff/queue").status_code == 200
    confirmed = {"csrf_token": token, "confirm": "y"}
    assert admin_client.post(f"{url}/reset-totp", data=confirmed).status_code == 303
    assert theirs.get("/staff/queue").status_code == 303
    assert not _fresh(session, "det").totp_enrolled
    again = app.test_client()
    token = csrf_token(again, "/staff/login")
    response = again.post(
        "/staff/login",
        data={"csrf_token": token, "username": "det", "password": "correct horse battery staple"},
    )
    assert response.headers["Location"] == "/staff/enrol"


@pytest.mark.parametrize("role", [Role.DETECTIVE, Role.SUPERVISOR, Role.PIO, Role.CALL_TAKER])
def test_only_admins_open_the_account_screens(client, make_staff, role):
    user = make_staff(role)
    sign_in(client, user.username)
    for url in ["/staff/admin/staff", "/staff/admin/staff/new", f"/staff/admin/staff/{user.id}"]:
        assert client.get(url).status_code == 403, url
