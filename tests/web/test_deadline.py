"""A PostgreSQL server that is there but does not answer (its processes stopped): no server-side
timeout can fire, so the request deadline cuts the wait and the tipster gets the "not saved"
page with their words, well before gunicorn's worker timeout would kill the worker."""

from __future__ import annotations

import logging
import re
import signal
import threading
import time

import pytest
from sqlalchemy import make_url, select

from tipline import create_app, db
from tipline.tips.models import Tip

from ..conftest import SECRET, publish_new_notice
from ..servers import FreezableProxy

NARRATIVE = "Saw him on the streetcar to Canal Street, red cap, about ten at night"
DEADLINE = 2.0
#: If the deadline did not work the request would wait for ever; the proxy thaws by then
#: and the test fails on the time it took instead of hanging the run.
THAW_AFTER = 15.0


@pytest.fixture
def frozen_path(database_url):
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("SQLite has no server to freeze (its waits are bounded by busy_timeout)")
    url = make_url(database_url)
    proxy = FreezableProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.close()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _form_token(page: str) -> str:
    return re.search(r'name="form_token" type="hidden" value="([^"]+)"', page).group(1)


def test_a_frozen_server_gives_the_not_saved_page_with_the_text_within_the_deadline(
    frozen_path, tmp_path, caplog
):
    proxy, url = frozen_path
    app = create_app(
        {
            "SECRET_KEY": SECRET,
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_REQUEST_DEADLINE": DEADLINE,
            "DATABASE_CONNECT_TIMEOUT": 1,
        }
    )
    with app.app_context():
        slug = publish_new_notice(db.session()).slug
        db.session().commit()
    client = app.test_client()
    form_url = f"/notices/{slug}/tip"
    page = client.get(form_url).get_data(as_text=True)  # the pool now holds a connection

    proxy.frozen.set()
    thaw = threading.Timer(THAW_AFTER, proxy.frozen.clear)
    thaw.start()
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING):
            response = client.post(
                form_url,
                data={
                    "csrf_token": _csrf(page),
                    "form_token": _form_token(page),
                    "narrative": NARRATIVE,
                },
            )
        took = time.monotonic() - started
        # Opening the form again meanwhile: from memory, and bounded by the connect timeout.
        again = client.get(form_url)
        took_again = time.monotonic() - started - took
    finally:
        thaw.cancel()
        proxy.frozen.clear()

    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:500]
    assert "Your tip was not saved" in body and NARRATIVE in body
    assert DEADLINE <= took < DEADLINE + 3, took
    assert "cut 1 connection(s) the server did not answer on" in caplog.text
    assert again.status_code == 200 and "Tips cannot be saved right now" in again.get_data(
        as_text=True
    )
    assert took_again < DEADLINE + 3, took_again

    # The server answers again: nothing was stored, and the next tip is.
    with app.app_context():
        assert db.session().scalar(select(Tip.id).where(Tip.narrative == NARRATIVE)) is None
    page = client.get(form_url).get_data(as_text=True)
    response = client.post(
        form_url,
        data={"csrf_token": _csrf(page), "form_token": _form_token(page), "narrative": NARRATIVE},
    )
    assert response.status_code == 200
    assert "Your tip was not saved" not in response.get_data(as_text=True)
    app.extensions["tipline.engine"].dispose()


def test_the_deadline_is_armed_during_a_request_and_disarmed_after_it(database_url, tmp_path):
    app = create_app(
        {
            "SECRET_KEY": SECRET,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_REQUEST_DEADLINE": DEADLINE,
        }
    )
    during = []
    app.before_request(lambda: during.append(signal.getitimer(signal.ITIMER_REAL)))
    response = app.test_client().get("/tip")
    assert response.status_code == 200
    remaining, every = during[0]
    assert 0 < remaining <= DEADLINE and every == 1.0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    app.extensions["tipline.engine"].dispose()
