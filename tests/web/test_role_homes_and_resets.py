"""Each role starts where its work is; an administrator's password reset, new tip readers and
more access force the person to choose their own password and are reported to supervisors;
actions that sign someone out everywhere ask for confirmation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tipline import audit, jobs
from tipline.auth.models import Role, StaffUser
from tipline.auth.services import ACCESS_ALERT

from ..conftest import PASSWORD, csrf_token, sign_in


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.DETECTIVE, "/staff/queue"),
        (Role.SUPERVISOR, "/staff/queue"),
        (Role.PIO, "/staff/notices"),
        (Role.CALL_TAKER, "/staff/calls/new"),
        (Role.ADMIN, "/staff/admin/staff"),
        (Role.COORDINATOR, "/staff/rewards"),
        (Role.PAYOUT_DESK, "/staff/payout"),
    ],
)
def test_each_role_starts_where_its_work_is(app, make_staff, role, home):
    client = app.test_client()
    sign_in(client, make_staff(role).username)
    response = client.get("/staff/")
    assert response.status_code == 303
    assert response.headers["Location"] == home
    assert client.get(home).status_code == 200


def test_every_role_has_a_home():
    """A role added without a home would answer its first sign-in with a server error."""
    from tipline.web.staff import ROLE_HOMES

    assert set(ROLE_HOMES) == set(Role)


def _alerts(session):
    session.rollback()
    return [
        e.details
        for e in session.scalars(
            select(audit.services.AuditEvent).where(
                audit.services.AuditEvent.action == ACCESS_ALERT
            )
        )
    ]


def _password_on(page: str) -> str:
    return re.search(r'<p class="totp-key"><code>([0-9a-f-]+)</code>', page).group(1)


def test_admin_password_reset_is_one_time_forced_audited_and_reported(
    app, admin_client, session, detective_elsewhere
):
    detective, theirs, url = detective_elsewhere
    token = csrf_token(admin_client, url)
    # Not confirmed: nothing changes.
    response = admin_client.post(f"{url}/reset-password", data={"csrf_token": token})
    assert response.status_code == 303
    assert theirs.get("/staff/queue").status_code == 200
    response = admin_client.post(
        f"{url}/reset-password", data={"csrf_token": token, "confirm": "y"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    one_time = _password_on(response.get_data(as_text=True))
    assert theirs.get("/staff/queue").status_code == 303  # signed out everywhere
    assert sign_in(app.test_client(), "det", PASSWORD).status_code == 401  # old one is dead

    again = app.test_client()
    assert sign_in(again, "det", one_time).status_code == 303
    for url_ in ["/staff/queue", "/staff/", f"/staff/admin/staff/{detective.id}"]:
        forced = again.get(url_)
        assert forced.status_code == 303 and forced.headers["Location"] == "/staff/password"
    page = again.get("/staff/password").get_data(as_text=True)
    assert "An administrator gave you this password" in page
    token = csrf_token(again, "/staff/password")
    new = "a brand new passphrase of mine"
    changed = again.post(
        "/staff/password",
        data={"csrf_token": token, "current": one_time, "new": new, "confirm": new},
    )
    assert changed.status_code == 303
    final = app.test_client()
    assert sign_in(final, "det", new).status_code == 303
    assert final.get("/staff/queue").status_code == 200

    actions = [e.action for e in audit.events_for(session, "staff_user", detective.id)]
    assert "staff.password_reset" in actions and ACCESS_ALERT in actions
    assert _alerts(session) == [
        {"what": "reset the password", "username": "det", "role": "detective"}
    ]


def test_new_tip_readers_and_more_access_force_a_change_and_reach_the_supervisors(
    app, admin_client, session, make_staff
):
    make_staff(Role.SUPERVISOR, "sup")
    token = csrf_token(admin_client, "/staff/admin/staff/new")
    created = admin_client.post(
        "/staff/admin/staff/new",
        data={"csrf_token": token, "username": "newdet", "role": "detective", "unit": ""},
    )
    first = _password_on(created.get_data(as_text=True))
    admin_client.post(
        "/staff/admin/staff/new",
        data={"csrf_token": token, "username": "newpio", "role": "pio", "unit": ""},
    )
    pio = session.scalar(select(StaffUser).where(StaffUser.username == "newpio"))
    url = f"/staff/admin/staff/{pio.id}"
    token = csrf_token(admin_client, url)
    admin_client.post(f"{url}/role", data={"csrf_token": token, "role": "supervisor"})
    assert [(a["what"], a["username"]) for a in _alerts(session)] == [
        ("created a tip reader", "newdet"),
        ("gave Supervisor access", "newpio"),
    ]
    # The first password opens only the password page.
    client = app.test_client()
    assert sign_in(client, "newdet", first).status_code == 303
    assert client.get("/staff/queue").headers["Location"] == "/staff/password"
    session.expire_all()
    pio = session.get(StaffUser, pio.id)
    assert pio.password_change_required
    # The supervisors see both on the oversight page.
    supervisor = app.test_client()
    sign_in(supervisor, "sup")
    page = supervisor.get("/staff/oversight").get_data(as_text=True)
    assert "boss created a tip reader for newdet (detective)" in page
    assert "boss gave Supervisor access for newpio (supervisor)" in page


def test_the_access_alert_e_mail_carries_who_and_what(app, admin_client, session, monkeypatch):
    sent = []
    monkeypatch.setattr(
        jobs.tasks, "send_mail", lambda settings, to, subject, body: sent.append(body)
    )
    app.config["SUPERVISOR_EMAILS"] = ["duty-sgt@example.org"]
    token = csrf_token(admin_client, "/staff/admin/staff/new")
    admin_client.post(
        "/staff/admin/staff/new",
        data={"csrf_token": token, "username": "newdet", "role": "detective", "unit": ""},
    )
    event = session.scalar(
        select(audit.services.AuditEvent).where(audit.services.AuditEvent.action == ACCESS_ALERT)
    )
    assert jobs.jobs_for(app).mail_access_alert.call_local(event.id) == 1
    assert "boss created a tip reader for newdet (detective)" in sent[0]
    assert "/staff/oversight" in sent[0]
