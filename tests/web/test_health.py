"""/readyz: ready when the database (and Redis, when configured) answers; a plain 503 if not."""

from __future__ import annotations

import pytest

from tipline import create_app

from ..conftest import REDIS_URL, SECRET


@pytest.fixture
def app_with(tmp_path):
    """Apps with the given settings; their connections are closed after the test."""
    made = []

    def make(**config):
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": SECRET,
                "INSTANCE_PATH": str(tmp_path / "instance"),
                **config,
            }
        )
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["tipline.engine"].dispose()
        if "tipline.redis_ready" in app.extensions:
            app.extensions["tipline.redis_ready"].close()


def test_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ready\n"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing",  # nothing listens on port 1
        "sqlite:////nonexistent-directory/tipline.sqlite3",
    ],
)
def test_not_ready_with_a_wrong_database_url(app_with, url):
    app = app_with(DATABASE_URL=url)
    response = app.test_client().get("/readyz")
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert body == "not ready: the database does not answer\n"
    assert response.headers["Cache-Control"] == "no-store"
    assert "127.0.0.1" not in body and "nonexistent" not in body
    # The process itself is up.
    assert app.test_client().get("/healthz").status_code == 200


def test_ready_when_redis_answers(app_with, database_url, redis_db):
    app = app_with(DATABASE_URL=database_url, REDIS_URL=REDIS_URL)
    response = app.test_client().get("/readyz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ready\n")


def test_not_ready_with_a_wrong_redis_port(app_with, database_url):
    app = app_with(DATABASE_URL=database_url, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "not ready: Redis does not answer\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_both_missing_are_both_named(app_with):
    app = app_with(
        DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    body = app.test_client().get("/readyz").get_data(as_text=True)
    assert body == "not ready: the database does not answer; Redis does not answer\n"
