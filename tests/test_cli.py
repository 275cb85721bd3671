"""The `tipline` command: db upgrade, user add, and the demo a new user runs first."""

import contextlib
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from tipline import db, migrations
from tipline.auth.models import Role, StaffUser

from .conftest import PASSWORD, SECRET, receipt_code_on

TIPLINE = str(Path(sys.executable).parent / "tipline")
HEAD = ScriptDirectory(str(Path(migrations.__file__).parent)).get_current_head()


def test_db_upgrade_creates_the_schema_on_an_empty_database(tmp_path):
    env = {
        **os.environ,
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_INSTANCE_PATH": str(tmp_path),
    }
    result = subprocess.run(
        [TIPLINE, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    engine = db.make_engine(f"sqlite:///{tmp_path / 'tipline.sqlite3'}")
    assert f"Database is at revision {HEAD}." in result.stdout
    assert "tip" in inspect(engine).get_table_names()
    engine.dispose()


def test_commands_refuse_to_start_without_a_secret_key_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env["TIPLINE_INSTANCE_PATH"] = str(tmp_path)
    result = subprocess.run(
        [TIPLINE, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "TIPLINE_SECRET_KEY is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_flask_command_reaches_the_same_commands(tmp_path):
    env = {**os.environ, "TIPLINE_SECRET_KEY": SECRET, "TIPLINE_INSTANCE_PATH": str(tmp_path)}
    flask = str(Path(sys.executable).parent / "flask")
    result = subprocess.run(
        [flask, "--app", "tipline", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"revision {HEAD}" in result.stdout


def test_user_add_reads_the_password_from_stdin(runner, session):
    result = runner.invoke(args=["user", "add", "jdoe", "--role", "detective"], input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Added jdoe as Detective." in result.output
    user = session.scalar(select(StaffUser).where(StaffUser.username == "jdoe"))
    assert user.role is Role.DETECTIVE
    assert user.password_hash.startswith("$argon2id$")


def test_user_add_refuses_a_short_password_a_taken_name_and_an_unknown_role(runner, session):
    short = runner.invoke(args=["user", "add", "a", "--role", "pio"], input="short\n")
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    runner.invoke(args=["user", "add", "b", "--role", "pio"], input=PASSWORD)
    taken = runner.invoke(args=["user", "add", "b", "--role", "pio"], input=PASSWORD)
    assert taken.exit_code == 1 and "already a staff account" in taken.output
    role = runner.invoke(args=["user", "add", "c", "--role", "sheriff"], input=PASSWORD)
    assert role.exit_code == 2 and "'sheriff' is not one of" in role.output
    names = session.scalars(select(StaffUser.username)).all()
    assert names == ["b"]


def test_db_upgrade_through_the_runner_reports_the_head(runner, app):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0
    with app.app_context():
        assert migrations.current_revision(db.engine()) == HEAD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _form_token(opener, url: str) -> str:
    with opener.open(url) as response:
        page = response.read().decode()
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _post(opener, url: str, fields: dict) -> str:
    data = urllib.parse.urlencode(fields).encode()
    with opener.open(url, data=data) as response:
        return response.read().decode()


@contextlib.contextmanager
def _demo(env: dict, log: Path, *options: str) -> Iterator[str]:
    """Run `tipline demo` on a free port until the block ends; yields its base URL."""
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [TIPLINE, "demo", "--port", str(port), *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/healthz")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


@pytest.mark.slow
def test_demo_serves_the_notice_takes_a_tip_and_shows_it_to_a_detective(tmp_path):
    """What a new user does first, against the real `tipline demo` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env["TIPLINE_INSTANCE_PATH"] = str(tmp_path)
    log = tmp_path / "demo.log"
    with _demo(env, log) as base:
        password = re.search(r"demo-detective\s+(\S+)", log.read_text()).group(1)
        public = _opener()
        with public.open(f"{base}/notices/alexis-jane-doe") as response:
            notice = response.read().decode()
        assert 'href="tel:+1-504-658-6030"' in notice
        assert 'href="tel:+1-504-822-1111"' in notice

        tip_url = f"{base}/notices/alexis-jane-doe/tip"
        token = _form_token(public, tip_url)
        receipt = _post(public, tip_url, {"csrf_token": token, "narrative": "On the Algiers ferry"})
        assert receipt_code_on(receipt)

        staff = _opener()
        login_url = f"{base}/staff/login"
        token = _form_token(staff, login_url)
        # The first sign-in leads to enrolling an authenticator: read the key like a person
        # who cannot scan the QR code, and type the app's code.
        enrol = _post(
            staff,
            login_url,
            {"csrf_token": token, "username": "demo-detective", "password": password},
        )
        assert '<img src="data:image/svg+xml' in enrol
        key = re.search(r'<p class="totp-key"><code>([A-Z2-7 ]+)</code>', enrol).group(1)
        code = pyotp.TOTP(key.replace(" ", "")).now()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', enrol).group(1)
        codes = _post(staff, f"{base}/staff/enrol", {"csrf_token": token, "code": code})
        assert "Save these recovery codes now" in codes
        with staff.open(f"{base}/staff/queue") as response:
            queue = response.read().decode()
        assert "On the Algiers ferry" in queue
        assert "Alexis Jane Doe" in queue
    printed = log.read_text()
    assert "GET /notices/alexis-jane-doe" in printed  # requests are logged...
    assert "127.0.0.1 -" not in printed  # ...but never the visitor's address

    # A second run keeps the database and its one notice, and gives new passwords.
    with _demo(env, tmp_path / "second.log") as base:
        with _opener().open(f"{base}/") as response:
            assert response.read().decode().count('href="/notices/alexis-jane-doe"') == 1
        again = (tmp_path / "second.log").read_text()
        assert re.search(r"demo-detective\s+(\S+)", again).group(1) != password

    # The demo made a signing key; checkpoint and verify work on its log with no setup.
    key_file = tmp_path / "audit-signing-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    audit_env = {**env, "TIPLINE_ENV": "development"}
    for args in (["audit", "checkpoint"], ["audit", "verify"]):
        result = subprocess.run(
            [TIPLINE, *args], env=audit_env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    # The four sample tips the demo seeds, and the one this test sent.
    assert "Tips: 5; tip.received events: 5." in result.stdout
    assert "1 signed checkpoints" in result.stdout


@pytest.mark.slow
def test_audit_verify_as_a_command_exits_non_zero_and_names_the_row(tmp_path):
    """The real `tipline audit verify` process, on an edited SQLite log."""
    env = {
        **os.environ,
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_INSTANCE_PATH": str(tmp_path),
    }

    def tipline(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [TIPLINE, *args], env=env, capture_output=True, text=True, check=False, input=PASSWORD
        )

    assert tipline("db", "upgrade").returncode == 0
    assert tipline("user", "add", "sup", "--role", "supervisor").returncode == 0
    assert tipline("user", "add", "det", "--role", "detective").returncode == 0
    ok = tipline("audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "2 events checked" in ok.stdout
    engine = db.make_engine(f"sqlite:///{tmp_path / 'tipline.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
        conn.exec_driver_sql("UPDATE audit_event SET details = '{}' WHERE seq = 2")
    engine.dispose()
    bad = tipline("audit", "verify")
    assert bad.returncode == 1
    assert "FAILED: row id 2 (sequence 2): its contents do not match its hash" in bad.stderr


def test_db_downgrade_current_and_history(runner, app):
    history = runner.invoke(args=["db", "history"])
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()
    assert lines[0].split()[:3] == ["base", "->", "0001"] and lines[-1].split()[2] == HEAD
    previous = lines[-1].split()[0]
    down = runner.invoke(args=["db", "downgrade"])
    assert down.exit_code == 0, down.output
    assert f"revision {previous}" in down.output
    assert runner.invoke(args=["db", "current"]).output.strip() == previous
    runner.invoke(args=["db", "upgrade"])
    assert runner.invoke(args=["db", "current"]).output.strip() == HEAD


def test_db_revision_autogenerate_writes_a_dated_file_with_nothing_to_do(
    runner, app, tmp_path, monkeypatch
):
    import shutil

    copy = tmp_path / "migrations"
    shutil.copytree(migrations.HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "HERE", copy)
    result = runner.invoke(
        args=["db", "revision", "-m", "add a thing", "--rev-id", "0999", "--autogenerate"]
    )
    assert result.exit_code == 0, result.output
    (written,) = (copy / "versions").glob("*_0999_*.py")
    assert re.fullmatch(r"20\d{6}_0999_add_a_thing\.py", written.name)
    text = written.read_text()
    assert f"down_revision: str | None = '{HEAD}'" in text
    # The models and the migrations agree, so there is nothing to do.
    assert "op." not in text


def test_demo_refuses_a_busy_port_before_touching_the_demo_accounts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env["TIPLINE_INSTANCE_PATH"] = str(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [TIPLINE, "demo", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"tipline demo --port {port + 1}" in result.stderr
    assert "demo-admin" not in result.stdout + result.stderr  # no password printed
    assert not (tmp_path / "tipline.sqlite3").exists()  # nothing touched


def test_demo_seeds_tips_in_different_states(tmp_path):
    from tipline import create_app
    from tipline.demo import seed_demo
    from tipline.tips.models import Tip, TipStatus
    from tipline.tips.receipts import receipt_key
    from tipline.triage.models import ClosureReview

    app = create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    with app.app_context():
        migrations.upgrade(db.engine())
        key = receipt_key(app.config["SECRET_KEY"])
        seed_demo(db.session(), key, app.config["DATA_KEY"])
        db.session().commit()
        seed_demo(db.session(), key, app.config["DATA_KEY"])  # a second run adds none
        db.session().commit()
        tips = db.session().scalars(select(Tip).order_by(Tip.id)).all()
        assert [t.status for t in tips] == [
            TipStatus.NEW,
            TipStatus.IN_REVIEW,
            TipStatus.IN_REVIEW,
            TipStatus.FORWARDED,
        ]
        assert tips[0].there_now and tips[0].claimed_by_id is None
        assert db.session().scalar(select(ClosureReview.state)).value == "pending"
    app.extensions["tipline.engine"].dispose()


def test_user_add_beside_a_demo_says_what_to_set_and_then_works(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env["TIPLINE_INSTANCE_PATH"] = str(tmp_path)
    (tmp_path / "secret_key").write_text(SECRET + "\n")  # what `tipline demo` leaves behind
    add = [TIPLINE, "user", "add", "newcomer", "--role", "detective"]
    refused = subprocess.run(add, env=env, input=PASSWORD, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "TIPLINE_ENV=development tipline user add" in refused.stderr
    dev = {**env, "TIPLINE_ENV": "development"}
    subprocess.run([TIPLINE, "db", "upgrade"], env=dev, check=True, capture_output=True)
    added = subprocess.run(add, env=dev, input=PASSWORD, capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    assert "Added newcomer as Detective." in added.stdout
