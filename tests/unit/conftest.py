"""Staff members the unit tests act as (one each per test, on the test's database; two PIOs
for the notices' two-person rule), an empty database for the migration tests, and a
throw-away PostgreSQL role for the tests of what the application's role may not do."""

import uuid

import pytest
from sqlalchemy import create_engine, text

from tipline.auth.models import Role, StaffUser

from ..conftest import PG_URL


def _account(name: str, role: Role, username: str):
    """A fixture called ``name``: the account ``username`` with ``role`` (see make_staff)."""

    @pytest.fixture(name=name)
    def account(make_staff) -> StaffUser:
        return make_staff(role, username)

    return account


detective = _account("detective", Role.DETECTIVE, "det")
supervisor = _account("supervisor", Role.SUPERVISOR, "sup")
pio = _account("pio", Role.PIO, "pio-ann")
other_pio = _account("other_pio", Role.PIO, "pio-bob")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path) -> str:
    """An empty database (no tables) for one migration test, on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return request.getfixturevalue("new_pg_schema")()


@pytest.fixture
def app_role(database_url):
    """The name of a new PostgreSQL login role with no rights yet (for `tipline db
    grant-app-role` to give it the application's); dropped with what it owns after the test.
    Skips the test on SQLite."""
    if not database_url.startswith("postgresql"):
        pytest.skip("database roles exist only on PostgreSQL")
    name = f"tipline_app_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP OWNED BY "{name}"'))
        conn.execute(text(f'DROP ROLE "{name}"'))
    admin.dispose()
