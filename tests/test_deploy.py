"""The shipped deployment files: nginx accepts deploy/nginx.conf, gunicorn's access log names
no visitor, and the whole path (nginx cache in front of gunicorn) caches what it should."""

from __future__ import annotations

import contextlib
import http.client
import re
import runpy
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tipline import create_app, db, migrations

from .conftest import IN_CI, SECRET, publish_new_notice
from .servers import DEPLOY, NginxPrefix, free_port, nginx_binary, start_gunicorn, stop


def need_nginx() -> None:
    if nginx_binary() is None:
        if IN_CI:
            pytest.fail(
                "CI must check deploy/nginx.conf: nginx is not installed (.ci/run installs it)"
            )
        pytest.skip(
            "nginx is not installed (apt-get install -y nginx): deploy/nginx.conf unchecked"
        )


def _database_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'tipline.sqlite3'}"


@contextlib.contextmanager
def new_site_database(folder: Path) -> Iterator[tuple[Flask, Session]]:
    """An app on a new SQLite database in ``folder``, upgraded to head, and a session in its
    app context for the caller to arrange data with; committed and closed on the way out."""
    app = create_app(
        {"SECRET_KEY": SECRET, "DATABASE_URL": _database_url(folder), "INSTANCE_PATH": str(folder)}
    )
    try:
        with app.app_context():
            migrations.upgrade(db.engine())
            yield app, db.session()
            db.session().commit()
    finally:
        app.extensions["tipline.engine"].dispose()


@contextlib.contextmanager
def served_behind_nginx(folder: Path) -> Iterator[tuple[NginxPrefix, subprocess.Popen[bytes]]]:
    """The site on ``folder``'s database (see :func:`new_site_database`) in gunicorn, one
    worker, behind nginx with the shipped deploy/nginx.conf; both stopped on the way out
    (a test may stop gunicorn sooner)."""
    app_port = free_port()
    env = {
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_DATABASE_URL": _database_url(folder),
        "TIPLINE_INSTANCE_PATH": str(folder),
    }
    gunicorn = start_gunicorn("tipline:create_app()", app_port, env, workers=1)
    try:
        prefix = NginxPrefix(folder / "nginx", app_port)
        nginx = prefix.start()
        try:
            yield prefix, gunicorn
        finally:
            stop(nginx, sig=15)
    finally:
        stop(gunicorn)


@pytest.fixture
def slug(tmp_path) -> str:
    """The slug of the one published notice on a new site database in ``tmp_path``, for
    :func:`served_behind_nginx`; the test is skipped first without nginx."""
    need_nginx()
    with new_site_database(tmp_path) as (_app, session):
        return publish_new_notice(session).slug


def test_nginx_accepts_the_shipped_configuration(tmp_path):
    need_nginx()
    result = NginxPrefix(tmp_path / "nginx", app_port=free_port()).check()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_gunicorn_access_log_names_no_visitor():
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    log_format = settings["access_log_format"]
    # h: remote address, a: user agent, f: referrer, {header}i: any request header.
    assert not re.search(r"%\((h|a|f|\{[^}]*\}i)\)s", log_format), log_format
    assert settings["forwarded_allow_ips"] == "127.0.0.1"
    assert settings["worker_class"] == "sync"


def _get(url: str, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


@pytest.mark.slow
def test_nginx_caches_public_pages_and_never_tip_forms_or_cookie_requests(tmp_path, slug):
    with served_behind_nginx(tmp_path) as (prefix, _gunicorn):
        base = f"http://127.0.0.1:{prefix.onion_port}"
        statuses = [_get(f"{base}/notices/{slug}")[1]["X-Cache"] for _ in range(2)]
        assert statuses == ["MISS", "HIT"]
        status, headers, body = _get(f"{base}/notices/{slug}", {"Cookie": "__Host-tipline=abc"})
        assert (status, headers["X-Cache"]) == (200, "BYPASS")
        assert headers["Cache-Control"] == "private, no-cache"
        status, headers, body = _get(f"{base}/notices/{slug}/tip")
        assert headers["Cache-Control"] == "no-store"
        assert "X-Cache" not in headers  # not even a candidate for the cache
        assert b'name="csrf_token"' in body
        status, headers, body = _get(f"{base}/readyz")
        assert (status, body) == (200, b"ready\n")


def test_reload_loads_new_code_because_the_app_is_not_preloaded():
    """SIGHUP (``systemctl reload``) makes new workers import the app afresh only without
    preload_app; with it, a deploy would need a restart and refuse connections meanwhile."""
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["preload_app"] is False
    assert settings["graceful_timeout"] > 0


def test_every_wait_is_bounded_below_the_worker_timeout():
    from tipline.config import Defaults

    worker_timeout = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["timeout"]
    for name in (
        "DATABASE_CONNECT_TIMEOUT",
        "DATABASE_STATEMENT_TIMEOUT",
        "DATABASE_LOCK_TIMEOUT",
        "DATABASE_POOL_TIMEOUT",
        "DATABASE_BUSY_TIMEOUT",
        "REDIS_CONNECT_TIMEOUT",
        "REDIS_SOCKET_TIMEOUT",
        "READY_TIMEOUT",
        "DATABASE_REQUEST_DEADLINE",
    ):
        assert 0 < getattr(Defaults, name) < worker_timeout, name
    # A lock wait and a statement together still end before gunicorn kills the worker.
    assert worker_timeout > Defaults.DATABASE_LOCK_TIMEOUT + Defaults.DATABASE_STATEMENT_TIMEOUT
    # A frozen server: the request deadline cuts the wait after the server's own timeouts had
    # their chance, and one more connection attempt after the cut still ends in time.
    deadline = Defaults.DATABASE_REQUEST_DEADLINE
    assert deadline > Defaults.DATABASE_STATEMENT_TIMEOUT
    assert deadline + Defaults.DATABASE_CONNECT_TIMEOUT < worker_timeout


def test_systemd_units_leave_no_orphan_holding_the_port():
    for unit in ("tipline.service", "tipline-worker.service"):
        text = (DEPLOY / unit).read_text()
        assert re.search(r"^KillMode=(mixed|control-group)$", text, re.MULTILINE), unit
        assert re.search(r"^TimeoutStopSec=\d+$", text, re.MULTILINE), unit
        assert re.search(r"^Restart=on-failure$", text, re.MULTILINE), unit
    # gunicorn's workers finish the request in hand on SIGTERM: when the master died, the
    # whole control group gets it, so the tips being sent get their receipts.
    assert "\nKillMode=control-group\n" in (DEPLOY / "tipline.service").read_text()
    assert "ExecReload=/bin/kill -s HUP $MAINPID" in (DEPLOY / "tipline.service").read_text()


def _fetch(
    port: int, method: str, path: str, headers: dict[str, str], tls: bool, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=context
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _status(port: int, method: str, path: str, headers: dict[str, str], tls: bool) -> int:
    return _fetch(port, method, path, headers, tls)[0]


@pytest.mark.slow
def test_nginx_logs_no_client_address_for_a_too_large_body_or_a_stopped_app(tmp_path, slug):
    with served_behind_nginx(tmp_path) as (prefix, gunicorn):
        too_large = {"Content-Length": str(50 * 1024 * 1024), "Content-Type": "text/plain"}
        for port, tls, host in [
            (prefix.https_port, True, "tips.example.org"),
            (prefix.onion_port, False, "example.onion"),
        ]:
            status = _status(port, "POST", f"/notices/{slug}/tip", {"Host": host, **too_large}, tls)
            assert status == 413
        stop(gunicorn)
        for port, tls, host in [
            (prefix.https_port, True, "tips.example.org"),
            (prefix.onion_port, False, "example.onion"),
        ]:
            assert _status(port, "GET", f"/notices/{slug}/tip", {"Host": host}, tls) == 502
            # A tip sent meanwhile gets the site's page, not nginx's: nothing was recorded,
            # and Back returns to the form with the text.
            sent = b"narrative=They+are+at+the+corner"
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            length = {"Content-Length": str(len(sent))}
            status, headers, page = _fetch(
                port, "POST", f"/notices/{slug}/tip", {"Host": host, **form, **length}, tls, sent
            )
            assert status == 502 and headers["Retry-After"] == "60"
            assert b"Nothing was sent" in page and b"<center>nginx</center>" not in page
            assert headers["Cache-Control"] == "no-store"
    logs = {p.name: p.read_text() for p in (tmp_path / "nginx" / "logs").iterdir()}
    written = "\n".join(logs.values())
    assert "client:" not in written and "127.0.0.1" not in written, logs
    # The failures are still there for the operator, without an address.
    failed = logs["tipline-failed.log"]
    assert failed.count(" 413 ") == 2 and failed.count(" 502 ") == 4, failed
