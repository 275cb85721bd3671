"""Durability under kill -9: no acknowledged tip is lost, none is stored twice.

Not collected by pytest. From the top of the repository:

    .venv/bin/python -m tests.bench.bench_durability [--databases sqlite,postgresql]

Client threads submit tips (GET form, POST, receipt) to gunicorn (deploy settings, 2 workers)
while the harness kills the whole server, master and workers, with SIGKILL three times and
starts it again. Every tip has a unique narrative and is sent once: a submission that got no
receipt is never retried, so a duplicate could only come from the server. Afterwards, every
receipt code the clients were shown must be in the database (looked up by its keyed hash, as
the receipt page does), no narrative may be stored twice, and the audit chain must verify.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import signal
import threading
import time

from sqlalchemy import func, select

from tipline import create_app
from tipline.audit import chain
from tipline.audit import verify as audit_verify
from tipline.tips.models import Tip
from tipline.tips.receipts import hash_code, receipt_key

from ..conftest import SECRET
from ..servers import free_port, start_gunicorn, stop
from .stack import TIPLINE, TipClient, app_env, database, database_kinds

CLIENT_THREADS = 12
KILLS = 3


def run(kind: str, tips_wanted: int) -> bool:
    with database(kind) as db:
        port = free_port()
        env = app_env(db)
        server = start_gunicorn(TIPLINE, port, env)
        client = TipClient(port, timeout=10)
        counter = itertools.count()
        acknowledged: list[tuple[str, str]] = []  # (narrative, receipt code)
        lock = threading.Lock()
        sent = [0]
        finished = threading.Event()

        def submit() -> None:
            while not finished.is_set():
                narrative = f"durability tip {next(counter)}: seen near Jackson Square"
                with lock:
                    sent[0] += 1
                try:
                    code = client.submit_tip(narrative)
                except (OSError, http.client.HTTPException):  # the server died: no retry
                    code = None
                if code is None:
                    time.sleep(0.02)
                    continue
                with lock:
                    acknowledged.append((narrative, code))
                    if len(acknowledged) >= tips_wanted and kills_done[0] >= KILLS:
                        finished.set()

        kills_done = [0]
        threads = [threading.Thread(target=submit) for _ in range(CLIENT_THREADS)]
        start = time.monotonic()
        for t in threads:
            t.start()
        try:
            for n in range(KILLS):
                # Kill when a share of the tips is in flight, then restart at once.
                target = tips_wanted * (n + 1) // (KILLS + 1)
                while len(acknowledged) < target:
                    time.sleep(0.01)
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
                kills_done[0] += 1
                print(f"  {kind}: SIGKILL {n + 1} after {len(acknowledged)} receipts", flush=True)
                server = start_gunicorn(TIPLINE, port, env)
            finished.wait(timeout=600)
        finally:
            finished.set()
            for t in threads:
                t.join()
            stop(server)
        seconds = time.monotonic() - start

        app = create_app(
            {"SECRET_KEY": SECRET, "DATABASE_URL": db.url, "INSTANCE_PATH": str(db.folder)}
        )
        key = receipt_key(SECRET)
        with app.extensions["tipline.sessionmaker"]() as s:
            stored = set(s.scalars(select(Tip.receipt_hash)))
            lost = [code for _n, code in acknowledged if hash_code(key, code) not in stored]
            twice = s.execute(
                select(Tip.narrative).group_by(Tip.narrative).having(func.count() > 1)
            ).all()
            report = audit_verify.verify(
                s, chain.chain_key(app.config), db.folder / "none", db.folder / "none"
            )
        app.extensions["tipline.engine"].dispose()
        unacknowledged = len(stored) - len(acknowledged)
        ok = not lost and not twice and report.ok
        print(
            f"{kind}: {sent[0]} submissions tried in {seconds:.0f} s with {KILLS} SIGKILLs of "
            f"master and workers ({sent[0] - len(acknowledged)} got no receipt, nearly all while "
            f"the server was down); {len(acknowledged)} receipts shown, {len(stored)} tips stored "
            f"({unacknowledged} committed but their receipt never arrived); lost: {len(lost)}; "
            f"stored twice: {len(twice)}; audit chain: {'verified' if report.ok else 'BROKEN'} "
            f"-> {'PASS' if ok else 'FAIL'}",
            flush=True,
        )
        return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=1000, help="receipts to collect at least")
    database_kinds(parser)
    args = parser.parse_args()
    results = [run(kind, args.tips) for kind in args.databases.split(",")]
    raise SystemExit(0 if all(results) else 1)
