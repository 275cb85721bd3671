"""Staff members the unit tests act as (one each per test, on the test's database)."""

import pytest

from tipline.auth.models import Role


@pytest.fixture
def detective(make_staff):
    return make_staff(Role.DETECTIVE, "det")


@pytest.fixture
def supervisor(make_staff):
    return make_staff(Role.SUPERVISOR, "sup")
