"""Faults under load: what a tipster sees, and whether any tip or staff e-mail is lost.

Not collected by pytest. From the top of the repository, as root (it starts a PostgreSQL
cluster and a redis-server of its own on spare ports, never touching shared servers):

    .venv/bin/python -m tests.bench.bench_faults [--only deploy,pg-stopped,nginx:pg-hung,...]

Each scenario runs client threads that submit tips like a browser (GET the form, POST it)
against gunicorn with the shipped settings, injects one fault, ends it, and counts. The
``nginx:`` rows send the same load over HTTPS through the shipped deploy/nginx.conf (a
throw-away certificate, the upstream mapped to the scenario's gunicorn), so nginx's own error
pages show. A tip is sent once and never retried, so a duplicate could only come from the
server; a client whose try failed tries a new tip 50 ms later. Columns:

    sent (tries), receipts (a code shown), stored (tips in the database), lost (a code shown
    with no stored tip), dup (a narrative stored twice), 5xx (other than the "not saved"
    page, nginx's included), what the tipster saw (r: receipt, 503t: the "not saved" page
    with their text, x: the POST's connection refused or reset, ngx502: an error page from
    nginx (the site's static "nothing was sent" page), 5xx: any other server error, e:
    anything else; "form-" before one of these: the form itself did not open, so nothing
    typed was lost), notifications lost, escalation
    delay, recovery (from the fault's end to the next receipt), worker timeouts (gunicorn
    killed a worker that took longer than its 30 s timeout).

"master-kill" kills gunicorn's master alone and then does what deploy/tipline.service makes
systemd do: an emulation of the unit's settings (KillMode, KillSignal, TimeoutStopSec,
RestartSec, read from the file), since systemd is not PID 1 where the harness runs.

Bounded: every scenario has a fixed duration; the whole run took about ten minutes on a
loaded two-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import os
import platform
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import redis
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text

from tipline import create_app, db, migrations
from tipline.auth import services as auth
from tipline.auth.models import Role
from tipline.demo import DEMO_SLUG, seed_demo
from tipline.notices.models import Notice
from tipline.outbox import OutboxMessage
from tipline.tips.models import Tip, TipPriority
from tipline.tips.receipts import hash_code, receipt_key
from tipline.triage.models import Escalation

from ..conftest import RECEIPT_RE, SECRET, confirmed_follow
from ..servers import DEPLOY, VENV_BIN, NginxPrefix, free_port, nginx_binary, start_gunicorn, stop
from .stack import BENCH_TIP_LIMIT, COOKIE_RE, FORM_TOKEN_RE, TOKEN_RE

TIP_PATH = f"/notices/{DEMO_SLUG}/tip"
CLIENTS = 6
#: Longer than any wait the server may impose (a hung database, gunicorn's worker timeout).
CLIENT_TIMEOUT = 90
SITE_HOST = "tips.example.org"
#: How long the hung-database scenario freezes PostgreSQL: longer than every server-side
#: timeout and than gunicorn's 30 s worker timeout, so only a client-side bound ends it.
PG_HANG_SECONDS = 40
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


# --- private servers -------------------------------------------------------------------------


class PrivatePostgres:
    """A throw-away PostgreSQL cluster under /tmp on a spare port, run as the postgres user."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tipline-faults-pg-"))
        self.port = free_port()
        shutil.chown(self.folder, "postgres")

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["su", "postgres", "-c", " ".join(args)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        self._as_postgres(f"{PG_BIN}/initdb", "-D", str(self.folder / "data"), "-A trust")
        self.start()

    def start(self) -> None:
        options = f"'-p {self.port} -k {self.folder} -c fsync=off -c max_connections=100'"
        self._as_postgres(
            f"{PG_BIN}/pg_ctl", "-D", str(self.folder / "data"), "-o", options, "-w", "start",
            "-l", str(self.folder / "log"),
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(f"{PG_BIN}/pg_ctl", "-D", str(self.folder / "data"), "-m fast stop")

    def pids(self) -> list[int]:
        """The postmaster, then every process it started (backends, checkpointer, ...)."""
        postmaster = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        children = [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent_of(stat) == postmaster
        ]
        return [postmaster, *children]

    def freeze(self) -> list[int]:
        """SIGSTOP the whole cluster, postmaster first so it forks no backend meanwhile; the
        kernel still accepts and acknowledges connections, nothing answers them."""
        stopped: list[int] = []
        while True:
            fresh = [pid for pid in self.pids() if pid not in stopped]
            if not fresh:
                return stopped
            for pid in fresh:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)

    def thaw(self, pids: list[int]) -> None:
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                client.ping()
                break
            time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Inbox:
    def __init__(self, delay: float = 0.0) -> None:
        self.message_ids: list[str] = []
        self.delay = delay

    async def handle_DATA(self, _server, _session, envelope):
        if self.delay:
            time.sleep(self.delay)
        found = re.search(rb"^Message-ID: (\S+)", envelope.content, re.MULTILINE | re.IGNORECASE)
        self.message_ids.append(found.group(1).decode() if found else "")
        return "250 OK"


# --- the stack -------------------------------------------------------------------------------


@dataclass
class Stack:
    pg: PrivatePostgres
    redis: PrivateRedis
    smtp_port: int
    database_url: str = ""
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tipline-f-")))

    def fresh_database(self) -> None:
        name = f"faults_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.pg.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.database_url = self.pg.url(name)
        app = self.app()
        with app.app_context():
            migrations.upgrade(db.engine())
            seed_demo(db.session())
            db.session().commit()
        app.extensions["tipline.engine"].dispose()

    def config(self) -> dict[str, object]:
        return {
            "SECRET_KEY": SECRET,
            "DATABASE_URL": self.database_url,
            "INSTANCE_PATH": str(self.folder),
            "REDIS_URL": self.redis.url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": self.smtp_port,
            "MAIL_FROM": "tipline@example.org",
            "SUPERVISOR_EMAILS": ["sgt@example.org"],
        }

    def env(self) -> dict[str, str]:
        env = {f"TIPLINE_{k}": str(v) for k, v in self.config().items()}
        env["TIPLINE_SUPERVISOR_EMAILS"] = '["sgt@example.org"]'
        env["TIPLINE_TIP_RATE_LIMIT"] = BENCH_TIP_LIMIT
        env["TIPLINE_TIP_GLOBAL_RATE_LIMIT"] = BENCH_TIP_LIMIT
        return env

    def app(self):
        return create_app(self.config())

    def gunicorn(self, port: int, log: Path) -> subprocess.Popen:
        """gunicorn with the shipped settings; its error log (worker timeouts) and the app's
        log go to ``log``."""
        env = {**self.env(), "TIPLINE_PROXY_FIX_X_FOR": "1"}  # as behind the shipped nginx
        with log.open("ab") as stderr:  # the child keeps its own descriptor
            return start_gunicorn("tipline:create_app()", port, env, workers=2, stderr=stderr)

    def worker(self) -> subprocess.Popen:
        return subprocess.Popen(
            [str(VENV_BIN / "tipline"), "worker", "--workers", "2"],
            env={**os.environ, **self.env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


# --- load --------------------------------------------------------------------------------------


@dataclass
class Load:
    ports: list[int]
    tls: bool = False  # through the shipped nginx over HTTPS, as a browser would come
    counter: Iterator[int] = field(default_factory=itertools.count)
    seen: Counter = field(default_factory=Counter)
    receipts: list[tuple[str, str, float]] = field(default_factory=list)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def _request(self, port: int, method: str, path: str, body=None, headers=None):
        headers = dict(headers or {})
        conn: http.client.HTTPConnection
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the throw-away certificate
            conn = http.client.HTTPSConnection(
                "127.0.0.1", port, timeout=CLIENT_TIMEOUT, context=context
            )
            # The name the certificate is for; a browser's form POST carries its Origin.
            headers["Host"] = SITE_HOST
            if method == "POST":
                headers["Origin"] = f"https://{SITE_HOST}"
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def submit(self, port: int) -> str:
        narrative = f"fault tip {next(self.counter)} {uuid.uuid4().hex[:6]}: by the levee"
        with self.lock:
            self.sent += 1
        try:
            status, headers, page = self._request(port, "GET", TIP_PATH)
        except (OSError, http.client.HTTPException):
            return "form-x"  # the form did not open: nothing typed was lost
        cookie = COOKIE_RE.search(headers.get("Set-Cookie", ""))
        csrf, token = TOKEN_RE.search(page), FORM_TOKEN_RE.search(page)
        if status != 200 or not (cookie and csrf and token):
            return "form-" + ("e" if status < 500 else server_error(status, page))
        fields = {
            "narrative": narrative,
            "csrf_token": csrf.group(1).decode(),
            "form_token": token.group(1).decode(),
        }
        try:
            status, _h, page = self._request(
                port,
                "POST",
                TIP_PATH,
                urlencode(fields),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": cookie.group(1),
                },
            )
        except (OSError, http.client.HTTPException):
            return "x"
        body = page.decode(errors="replace")
        if status == 200:
            found = RECEIPT_RE.search(re.sub(r"<[^>]+>", "", body))
            if found:
                with self.lock:
                    self.receipts.append((narrative, found.group(0), time.monotonic()))
                return "r"
            return "e"
        if status == 503 and narrative in body and "not saved" in body:
            return "503t"
        return server_error(status, page) if status >= 500 else "e"

    def start(self, clients: int = CLIENTS) -> None:
        def run(n: int) -> None:
            turn = itertools.count(n)
            while not self.stop.is_set():
                ports = list(self.ports)  # the servers in rotation now (a proxy's view)
                outcome = self.submit(ports[next(turn) % len(ports)])
                with self.lock:
                    self.seen[outcome] += 1
                if outcome != "r":
                    time.sleep(0.05)

        self.threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def first_receipt_after(self, moment: float) -> float | None:
        with self.lock:
            later = [at for _n, _c, at in self.receipts if at > moment]
        return min(later) - moment if later else None


def server_error(status: int, page: bytes) -> str:
    """``5xx`` from the app, or ``ngx502`` and the like: an error page nginx answered with
    (its own, or the site's static "nothing was sent" page, deploy/nginx-locations.conf)."""
    by_nginx = b"<center>nginx</center>" in page or b"data-tipline-unavailable" in page
    return f"ngx{status}" if by_nginx else "5xx"


@dataclass
class Row:
    scenario: str
    sent: int = 0
    receipts: int = 0
    stored: int = 0
    lost: int = 0
    dup: int = 0
    errors5xx: int = 0
    saw: str = ""
    mail_lost: str = "-"
    escalation: str = "-"
    recovery: str = "-"
    timeouts: str = "-"


def count_tips(stack: Stack, load: Load, row: Row) -> Row:
    app = stack.app()
    key = receipt_key(SECRET)
    with app.extensions["tipline.sessionmaker"]() as s:
        stored = set(s.scalars(select(Tip.receipt_hash)))
        twice = s.execute(
            select(Tip.narrative).group_by(Tip.narrative).having(func.count() > 1)
        ).all()
    app.extensions["tipline.engine"].dispose()
    row.sent, row.receipts, row.stored = load.sent, len(load.receipts), len(stored)
    row.lost = sum(1 for _n, code, _t in load.receipts if hash_code(key, code) not in stored)
    row.dup = len(twice)
    row.errors5xx = sum(
        n for k, n in load.seen.items() if k.removeprefix("form-").startswith(("5xx", "ngx"))
    )
    row.saw = " ".join(f"{k}:{v}" for k, v in sorted(load.seen.items()))
    return row


# --- scenarios -------------------------------------------------------------------------------


@dataclass
class Run:
    """The app server of one scenario: gunicorn's master (replaced when it is restarted), its
    port, and its error log."""

    server: subprocess.Popen
    port: int
    log: Path

    def worker_pids(self) -> list[int]:
        return [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent_of(stat) == self.server.pid
        ]

    def worker_timeouts(self) -> int:
        return self.log.read_text(errors="replace").count("WORKER TIMEOUT")


def _parent_of(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # gone meanwhile


def with_load(
    stack: Stack,
    name: str,
    fault: Callable[[Load, Run], float | tuple[float, float] | None],
    via_nginx: bool = False,
) -> Row:
    """Fresh database, gunicorn (behind the shipped nginx when ``via_nginx``), load for the
    fault; ``fault`` returns when it ended (the recovery column counts from there to the next
    receipt), or (when the fault began, when the first receipt may come from the new server):
    then recovery counts from the first to the next receipt after the second."""
    stack.fresh_database()
    port = free_port()
    log = stack.folder / f"gunicorn-{uuid.uuid4().hex[:6]}.log"
    run = Run(stack.gunicorn(port, log), port, log)
    nginx = None
    if via_nginx:
        prefix = NginxPrefix(stack.folder / f"nginx-{uuid.uuid4().hex[:6]}", port)
        nginx = prefix.start()
        load = Load([prefix.https_port], tls=True)
        name += ", through nginx"
    else:
        load = Load([port])
    load.start()
    ended = None
    try:
        time.sleep(2)
        ended = fault(load, run)
        time.sleep(4)
    finally:
        load.finish()
        stop(run.server)
        if nginx is not None:
            stop(nginx, sig=signal.SIGTERM)
    row = count_tips(stack, load, Row(name))
    row.timeouts = str(run.worker_timeouts())
    if ended is not None:
        began, after = ended if isinstance(ended, tuple) else (ended, ended)
        took = load.first_receipt_after(after)
        row.recovery = f"{took + after - began:.1f} s" if took is not None else "none"
    return row


def deploy(stack: Stack, via_nginx: bool = False) -> Row:
    def fault(_load: Load, run: Run) -> float:
        for _ in range(2):  # two deploys: `systemctl reload` is a SIGHUP to the master
            os.kill(run.server.pid, signal.SIGHUP)
            time.sleep(5)
        return time.monotonic()

    return with_load(stack, "deploy (HUP x2) under load", fault, via_nginx)


def worker_killed(stack: Stack, via_nginx: bool = False) -> Row:
    def fault(_load: Load, run: Run) -> float:
        os.kill(run.worker_pids()[0], signal.SIGKILL)  # one of two; the master forks another
        return time.monotonic()

    return with_load(stack, "gunicorn worker kill -9", fault, via_nginx)


def unit_settings(unit: str = "tipline.service") -> dict[str, str]:
    """The ``[Service]`` settings of a shipped systemd unit, with systemd's defaults for the
    ones the harness emulates."""
    settings = {"KillMode": "control-group", "KillSignal": "SIGTERM", "SendSIGKILL": "yes"}
    for line in (DEPLOY / unit).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            settings[key.strip()] = value.strip()
    return settings


def master_killed(stack: Stack, via_nginx: bool = False) -> Row:
    """``kill -9`` of gunicorn's master, then what deploy/tipline.service makes systemd do.

    An emulation (systemd is not PID 1 where this runs) of the unit's settings, read from the
    file: the main process is gone, so systemd stops the unit. Its ``KillSignal`` goes to the
    main process alone with ``KillMode=mixed`` (gone: nothing happens) or to every process of
    the control group with ``KillMode=control-group``, waiting up to ``TimeoutStopSec`` for
    them; then SIGKILL to whatever is left of the control group (here: the process group
    gunicorn was started in); then ``Restart=on-failure`` starts it again after
    ``RestartSec``."""
    unit = unit_settings()
    assert unit["Restart"] in ("on-failure", "always"), unit
    kill_signal = getattr(signal, unit["KillSignal"])

    def fault(_load: Load, run: Run) -> tuple[float, float]:
        killed = time.monotonic()
        os.kill(run.server.pid, signal.SIGKILL)  # the master alone
        run.server.wait()
        group = run.server.pid
        if unit["KillMode"] == "control-group":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, kill_signal)
            deadline = time.monotonic() + float(unit["TimeoutStopSec"])
            while _group_alive(group) and time.monotonic() < deadline:
                time.sleep(0.01)
        if unit["SendSIGKILL"] == "yes":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        while _group_alive(group):
            time.sleep(0.01)
        time.sleep(float(unit["RestartSec"]))
        restarting = time.monotonic()  # the old processes are all gone by now
        run.server = stack.gunicorn(run.port, run.log)  # returns once /healthz answers
        return killed, restarting

    name = f"gunicorn master kill -9, systemd emulated (KillMode={unit['KillMode']})"
    return with_load(stack, name, fault, via_nginx)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def pg_stopped(stack: Stack, via_nginx: bool = False) -> Row:
    def fault(_load: Load, _run: Run) -> float:
        stack.pg.stop()
        time.sleep(8)
        stack.pg.start()
        return time.monotonic()

    return with_load(stack, "PostgreSQL stopped 8 s", fault, via_nginx)


def pg_hung(stack: Stack, via_nginx: bool = False) -> Row:
    def fault(_load: Load, _run: Run) -> float:
        frozen = stack.pg.freeze()
        try:
            time.sleep(PG_HANG_SECONDS)
        finally:
            stack.pg.thaw(frozen)
        return time.monotonic()

    name = f"PostgreSQL hung (SIGSTOP) {PG_HANG_SECONDS} s"
    return with_load(stack, name, fault, via_nginx)


def table_lock(stack: Stack) -> Row:
    def fault(_load: Load, _run: Run) -> float:
        holder = create_engine(stack.database_url)
        with holder.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("LOCK TABLE tip IN ACCESS EXCLUSIVE MODE")
            time.sleep(35)  # longer than gunicorn's 30 s worker timeout
            conn.rollback()
        holder.dispose()
        return time.monotonic()

    return with_load(stack, "lock on tip 35 s (> worker timeout)", fault)


def redis_stalled(stack: Stack) -> Row:
    def fault(_load: Load, _run: Run) -> float:
        assert stack.redis.process is not None
        os.kill(stack.redis.process.pid, signal.SIGSTOP)
        time.sleep(8)
        os.kill(stack.redis.process.pid, signal.SIGCONT)
        return time.monotonic()

    return with_load(stack, "Redis stalled (SIGSTOP) 8 s", fault)


def redis_restarted(stack: Stack) -> Row:
    def fault(_load: Load, _run: Run) -> float:
        stack.redis.stop()
        time.sleep(4)
        stack.redis.start()  # empty: nothing persisted
        return time.monotonic()

    return with_load(stack, "Redis stopped 4 s, back empty", fault)


def one_of_two_killed(stack: Stack) -> Row:
    stack.fresh_database()
    ports = [free_port(), free_port()]
    servers = [stack.gunicorn(p, stack.folder / f"gunicorn-{p}.log") for p in ports]
    load = Load(ports)
    load.start()
    try:
        time.sleep(3)
        os.killpg(servers[0].pid, signal.SIGKILL)  # master and workers of server 1
        servers[0].wait()
        killed = time.monotonic()
        load.ports[:] = [ports[1]]  # the proxy takes it out of rotation
        time.sleep(5)
    finally:
        load.finish()
        for server in servers:
            stop(server)
    row = count_tips(stack, load, Row("1 of 2 app servers kill -9"))
    took = load.first_receipt_after(killed)
    row.recovery = f"{took:.1f} s" if took is not None else "none"
    return row


def mail_faults(stack: Stack, inbox: Inbox) -> Row:
    """Worker down with mail queued, Redis restarted empty, the worker killed -9 mid-delivery:
    every outbox row must arrive (the same Message-ID at most twice)."""
    stack.fresh_database()
    app = stack.app()
    with app.extensions["tipline.sessionmaker"]() as s:
        notice = s.scalar(select(Notice).where(Notice.slug == DEMO_SLUG))
        for n in range(5):
            user = auth.create_user(s, f"det-{n}", "correct horse battery", Role.DETECTIVE, "x")
            confirmed_follow(s, user, notice, f"det-{n}@example.org")
        s.commit()
    app.extensions["tipline.engine"].dispose()
    port = free_port()
    server = stack.gunicorn(port, stack.folder / f"gunicorn-{port}.log")
    load = Load([port])
    load.start()
    time.sleep(6)  # tips arrive, 5 follower e-mails each, no worker running
    load.finish()
    stop(server)
    stack.redis.stop()
    stack.redis.start()  # every queued task is gone
    inbox.message_ids.clear()
    inbox.delay = 0.02
    worker = stack.worker()
    time.sleep(3)
    os.killpg(worker.pid, signal.SIGKILL)  # mid-delivery
    worker.wait()
    worker = stack.worker()
    app = stack.app()
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            with app.extensions["tipline.sessionmaker"]() as s:
                waiting = s.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None)))
            if waiting == 0:
                break
            time.sleep(1)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    with app.extensions["tipline.sessionmaker"]() as s:
        ids = set(s.scalars(select(OutboxMessage.message_id)))
    app.extensions["tipline.engine"].dispose()
    row = count_tips(stack, load, Row("worker down, Redis emptied, worker kill -9"))
    received = Counter(inbox.message_ids)
    lost = len(ids - set(received))
    extra = sum(n - 1 for n in received.values() if n > 1)
    row.mail_lost = f"{lost} of {len(ids)} ({extra} resent)"
    inbox.delay = 0.0
    return row


def escalation_with_backlog(stack: Stack, inbox: Inbox) -> Row:
    """2,000 e-mails waiting and a slow mail server: an urgent tip falls due; how long after
    its due time is it escalated?"""
    stack.fresh_database()
    app = stack.app()
    with app.extensions["tipline.write_sessionmaker"]() as s:
        now = db.utcnow()
        for n in range(2000):
            s.add(
                OutboxMessage(
                    kind="follower",
                    recipient=f"d{n}@example.org",
                    subject="New tip",
                    body="A link",
                    message_id=f"<bulk.{n}@example.org>",
                    created_at=now,
                    next_attempt_at=now,
                    attempts=0,
                )
            )
        s.commit()
    inbox.delay = 0.05
    worker = stack.worker()
    time.sleep(5)  # the backlog is being sent
    due = db.utcnow() + timedelta(seconds=2)
    with app.extensions["tipline.write_sessionmaker"]() as s:
        from tests.triage_data import insert_tips

        insert_tips(
            s,
            1,
            received_at=due - timedelta(minutes=15),
            due_at=due,
            priority=TipPriority.URGENT,
            priority_rank=0,
        )
        s.commit()
    delay = None
    deadline = time.monotonic() + 130
    try:
        while time.monotonic() < deadline:
            with app.extensions["tipline.sessionmaker"]() as s:
                made = s.scalar(select(Escalation.created_at))
            if made is not None:
                delay = (made - due).total_seconds()
                break
            time.sleep(1)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        inbox.delay = 0.0
    app.extensions["tipline.engine"].dispose()
    row = Row("urgent tip due, 2,000 mails queued")
    row.escalation = f"{delay:.0f} s" if delay is not None else "none in 130 s"
    row.mail_lost = f"{len(inbox.message_ids)} of 2000 sent meanwhile"
    return row


SCENARIOS: dict[str, Callable[..., Row]] = {
    "deploy": deploy,
    "worker-kill": worker_killed,
    "master-kill": master_killed,
    "two-servers": one_of_two_killed,
    "pg-stopped": pg_stopped,
    "pg-hung": pg_hung,
    "lock": table_lock,
    "redis-stalled": redis_stalled,
    "redis-restarted": redis_restarted,
    "mail": mail_faults,
    "escalation": escalation_with_backlog,
}
#: Scenarios also run through the shipped nginx (HTTPS), so the tipster's view includes
#: nginx's own error pages: ``nginx:deploy`` and so on.
VIA_NGINX = ("deploy", "worker-kill", "master-kill", "pg-stopped", "pg-hung")
ALL = [*SCENARIOS, *(f"nginx:{name}" for name in VIA_NGINX)]


def run_scenario(name: str, stack: Stack, inbox: Inbox) -> Row:
    if name.startswith("nginx:"):
        base = name.removeprefix("nginx:")
        if base not in VIA_NGINX:
            raise SystemExit(f"{base} does not run through nginx (one of {', '.join(VIA_NGINX)})")
        return SCENARIOS[base](stack, via_nginx=True)
    if name in ("mail", "escalation"):
        return SCENARIOS[name](stack, inbox)
    return SCENARIOS[name](stack)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(ALL), help=f"comma-separated, of: {', '.join(ALL)}"
    )
    args = parser.parse_args()
    names = args.only.split(",")
    if unknown := [n for n in names if n not in ALL]:
        raise SystemExit(f"unknown scenarios: {', '.join(unknown)}")
    if PG_BIN is None or shutil.which("redis-server") is None:
        raise SystemExit("needs PostgreSQL server binaries and redis-server")
    if any(n.startswith("nginx:") for n in names) and nginx_binary() is None:
        raise SystemExit("the nginx: scenarios need nginx")
    pg, red = PrivatePostgres(), PrivateRedis()
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    pg.init()
    red.start()
    controller.start()
    stack = Stack(pg, red, smtp_port)
    rows = []
    try:
        for name in names:
            started = time.monotonic()
            row = run_scenario(name, stack, inbox)
            rows.append(row)
            print(f"  {row.scenario}: done in {time.monotonic() - started:.0f} s", flush=True)
    finally:
        controller.stop()
        red.stop()
        pg.destroy()
        shutil.rmtree(stack.folder, ignore_errors=True)
    machine = f"{platform.node()} ({os.cpu_count()} cores)"
    print(f"\n{time.strftime('%Y-%m-%d')} on {machine}, PostgreSQL")
    head = (
        "| scenario | sent | receipts | stored | lost | dup | 5xx | tipster saw | "
        "notifications lost | escalation delay | recovery | worker timeouts |"
    )
    print(head)
    print("|" + "---|" * 12)
    failed = False
    for r in rows:
        print(
            f"| {r.scenario} | {r.sent} | {r.receipts} | {r.stored} | {r.lost} | {r.dup} | "
            f"{r.errors5xx} | {r.saw} | {r.mail_lost} | {r.escalation} | {r.recovery} | "
            f"{r.timeouts} |"
        )
        failed |= bool(r.lost or r.dup)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
