"""Staff the web tests act as, signed in on the test's client or on a client of their own."""

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tipline.auth.models import Role, StaffUser
from tipline.notices.models import ContactLine

from ..conftest import sign_in


@pytest.fixture
def pio_client(app: Flask, make_staff) -> FlaskClient:
    """A client signed in as the PIO ``pio-ann``."""
    return staff_client(app, make_staff, Role.PIO, "pio-ann")


@pytest.fixture
def agency_lines(session) -> list[ContactLine]:
    """The agency's two contact lines (the police, then Crimestoppers with a note), which a
    PIO may choose for a notice."""
    lines = [
        ContactLine(position=0, label="New Orleans Police Department", phone="504-658-6030"),
        ContactLine(position=1, label="Crimestoppers", phone="504-822-1111", note="Anonymous."),
    ]
    session.add_all(lines)
    session.commit()
    return lines


@pytest.fixture
def admin_client(app: Flask, make_staff) -> FlaskClient:
    """A client signed in as the administrator ``boss``."""
    client = app.test_client()
    sign_in(client, make_staff(Role.ADMIN, "boss").username)
    return client


@pytest.fixture
def detective(client: FlaskClient, make_staff) -> StaffUser:
    """Detective ``det``, signed in on ``client``."""
    user = make_staff(Role.DETECTIVE, "det")
    sign_in(client, user.username)
    return user


@pytest.fixture
def detective_elsewhere(app: Flask, make_staff) -> tuple[StaffUser, FlaskClient, str]:
    """Detective ``det``, signed in on a client of their own (to see what an administrator's
    change does to their session), and the address of their account in the admin screens."""
    detective = make_staff(Role.DETECTIVE, "det")
    theirs = app.test_client()
    sign_in(theirs, "det")
    return detective, theirs, f"/staff/admin/staff/{detective.id}"


def staff_client(app: Flask, make_staff, role: Role, username: str) -> FlaskClient:
    """A new account ``username`` with ``role``, signed in on a client of its own."""
    make_staff(role, username)
    client = app.test_client()
    assert sign_in(client, username).status_code == 303
    return client
