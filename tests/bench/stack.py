"""What the benchmarks share: throw-away databases, the two apps under gunicorn, wrk, and a
small HTTP client that submits tips like a browser (GET the form, POST it with its CSRF token
and session cookie, read the receipt code)."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import create_engine, make_url, text

from tipline import create_app, db, migrations
from tipline.demo import DEMO_SLUG, seed_demo

from ..conftest import RECEIPT_RE, SECRET, pg_url_in_schema
from ..servers import free_port, start_gunicorn, stop

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TOKEN_RE = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
FORM_TOKEN_RE = re.compile(rb'name="form_token" type="hidden" value="([^"]+)"')
#: The session cookie's name=value (its name is the configured SESSION_COOKIE_NAME).
COOKIE_RE = re.compile(r"^([^=;\s]+=[^;]+)")
NOTICE_PATH = f"/notices/{DEMO_SLUG}"
BENCH_TIP_LIMIT = "1000000 per minute"


@dataclass
class Database:
    name: str  # "sqlite" or "postgresql"
    url: str
    folder: Path


@contextlib.contextmanager
def database(kind: str) -> Iterator[Database]:
    """A migrated database holding the demo notice; dropped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tipline-bench-"))
    admin = None
    name = None
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'tipline.sqlite3'}"
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"tipline_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    app = create_app({"SECRET_KEY": SECRET, "DATABASE_URL": url, "INSTANCE_PATH": str(folder)})
    with app.app_context():
        migrations.upgrade(db.engine())
        seed_demo(db.session())
        db.session().commit()
    app.extensions["tipline.engine"].dispose()
    try:
        yield Database(kind, url, folder)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def migrated_app(pg_url: str | None, **config: str) -> Iterator[tuple[Flask, str, Path]]:
    """An app on a fresh SQLite file, or on a throw-away schema of ``pg_url`` (dropped
    afterwards), migrated; yields the app, the database URL and a scratch folder."""
    workdir = Path(tempfile.mkdtemp())
    schema = admin = None
    if pg_url:
        schema = f"tipline_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = pg_url_in_schema(pg_url, schema)
    else:
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    app = create_app(
        {
            "SECRET_KEY": SECRET,
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(workdir / "instance"),
            **config,
        }
    )
    try:
        with app.app_context():
            migrations.upgrade(db.engine())
        yield app, url, workdir
    finally:
        app.extensions["tipline.engine"].dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


def database_kinds(parser: argparse.ArgumentParser) -> None:
    """The ``--databases`` option the throughput benchmarks share."""
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )


def app_env(database: Database) -> dict[str, str]:
    return {
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_DATABASE_URL": database.url,
        "TIPLINE_INSTANCE_PATH": str(database.folder),
        # Every benchmark client is 127.0.0.1: the per-address limit would refuse all but the
        # first ten tips. The limiter still runs and counts every POST.
        "TIPLINE_TIP_RATE_LIMIT": BENCH_TIP_LIMIT,
        "TIPLINE_TIP_GLOBAL_RATE_LIMIT": BENCH_TIP_LIMIT,
    }


@contextlib.contextmanager
def served(
    app: str, database: Database, workers: int = 2, extra: tuple[str, ...] = ()
) -> Iterator[int]:
    """``app`` ("tipline:create_app()" or the minimal app) under gunicorn; yields the port."""
    port = free_port()
    process = start_gunicorn(app, port, app_env(database), workers=workers, extra=extra)
    try:
        yield port
    finally:
        stop(process)


TIPLINE = "tipline:create_app()"
MINIMAL = "tests.bench.minimal_app:create_app()"


def wrk(url: str, seconds: int = 6, connections: int = 8, threads: int = 1) -> float:
    """Requests per second that wrk reached against ``url`` (non-2xx answers count as errors)."""
    wrk_bin = shutil.which("wrk")
    if wrk_bin is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    out = subprocess.run(
        [wrk_bin, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} failed answers\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


class TipClient:
    """Submits tips like a browser does, over plain http.client (one connection a request:
    gunicorn's sync workers close it after each answer)."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.port = port
        self.timeout = timeout

    def _request(
        self, method: str, path: str, body: str | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, bytes]:
        status, _headers, body = self._request("GET", path)
        return status, body

    def _send_form(
        self, path: str, narrative: str, tokens: dict[str, re.Pattern[bytes]]
    ) -> bytes | None:
        """GET the form at ``path``, POST it back with its tokens and session cookie; the
        answer's body, or None unless both requests succeeded."""
        status, headers, page = self._request("GET", path)
        cookie = COOKIE_RE.search(headers.get("Set-Cookie", ""))
        fields = {"narrative": narrative}
        for name, pattern in tokens.items():
            found = pattern.search(page)
            if found is None:
                return None
            fields[name] = found.group(1).decode()
        if status != 200 or not cookie:
            return None
        status, _headers, page = self._request(
            "POST",
            path,
            urlencode(fields),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie.group(1),
            },
        )
        return page if status == 200 else None

    def submit_tip(self, narrative: str, path: str = NOTICE_PATH + "/tip") -> str | None:
        """GET the form, POST the tip; the receipt code shown, or None if none came back."""
        page = self._send_form(
            path, narrative, {"csrf_token": TOKEN_RE, "form_token": FORM_TOKEN_RE}
        )
        if page is None:
            return None
        found = RECEIPT_RE.search(re.sub(r"<[^>]+>", "", page.decode()))
        return found.group(0) if found else None

    def form_then_insert(self, narrative: str) -> bool:
        """The minimal app's Flask-WTF form: the page, then the checked insert."""
        return self._send_form("/form", narrative, {"csrf_token": TOKEN_RE}) == b"saved"

    def form_then_tip_work(self, narrative: str) -> bool:
        """The same form doing a tip's own durable work (``submit_tip``, COMMIT)."""
        return self._send_form("/form-tip", narrative, {"csrf_token": TOKEN_RE}) == b"saved"

    def get_then_insert(self, narrative: str) -> bool:
        """The minimal app's two requests: a page, then the insert (a tip's shape, no work)."""
        return self.get("/hello")[0] == 200 and self.insert(narrative)

    def insert(self, narrative: str) -> bool:
        status, _headers, _body = self._request(
            "POST",
            "/insert",
            f"narrative={narrative}",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status == 200
