"""The supervisors' audit page: the last verification and the newest events, nothing more."""

import pytest
from sqlalchemy import func, select

from tipline.audit import services as audit
from tipline.audit.models import AuditEvent
from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips

from ..conftest import sign_in

KEY = receipts.receipt_key("k" * 40)


@pytest.fixture
def a_tip(session):
    tip, _code = tips.submit_tip(session, tips.TipReport("Seen behind the pharmacy"), KEY)
    session.commit()
    return tip


def test_supervisor_sees_events_and_that_the_log_was_not_verified_yet(client, make_staff, a_tip):
    sign_in(client, make_staff(Role.SUPERVISOR).username)
    response = client.get("/staff/audit")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "The audit log has not been verified yet" in page
    assert "tip.received" in page and a_tip.short_ref in page
    assert "staff.login" in page  # the supervisor's own sign-in is an event too
    assert "Seen behind the pharmacy" not in page  # no tip contents in the log page
    assert 'href="/staff/audit"' in page  # reachable from the staff menu


def test_supervisor_sees_the_last_successful_verification(client, runner, make_staff, a_tip):
    # The record is signed with the checkpoint key; without one it shows as not trusted.
    assert runner.invoke(args=["audit", "new-signing-key"]).exit_code == 0
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    sign_in(client, make_staff(Role.SUPERVISOR).username)
    page = client.get("/staff/audit").get_data(as_text=True)
    assert "Intact." in page
    assert "1 tips and 1 “tip received” events" in page


@pytest.mark.parametrize("role", [Role.DETECTIVE, Role.PIO, Role.ADMIN, Role.CALL_TAKER])
def test_only_supervisors_open_the_audit_page(client, make_staff, role, a_tip):
    sign_in(client, make_staff(role).username)
    response = client.get("/staff/audit")
    assert response.status_code == 403
    assert "tip.received" not in response.get_data(as_text=True)
    home = client.get("/staff/", follow_redirects=True).get_data(as_text=True)
    assert 'href="/staff/audit"' not in home


def test_the_public_is_sent_to_sign_in(client):
    response = client.get("/staff/audit")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/staff/login")


def test_the_overview_service_checks_the_role_again(session, make_staff):
    with pytest.raises(audit.NotAllowed):
        audit.overview(session, make_staff(Role.DETECTIVE))
    supervisor = make_staff(Role.SUPERVISOR, "sup")
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    assert audit.overview(session, supervisor).total == events >= 2
