"""Tip submission throughput against a minimal Flask endpoint that inserts one row and commits.

Not collected by pytest. From the top of the repository (PostgreSQL on 127.0.0.1:5432 for the
second half; a throw-away database is created and dropped):

    .venv/bin/python -m tests.bench.bench_tips

One tip is what a browser does: GET the tip form, POST it with its CSRF token and session
cookie, and receive the receipt page, which is sent only after the tip and its audit event have
committed. The minimal endpoint is one POST that inserts one row and commits, on the same
database with the same engine settings, under the same gunicorn settings (2 workers). The same
client (threads on loopback) drives both.

Two more baselines show where a tip sits: the minimal app's GET /hello then its insert (two
requests doing nothing), and the insert behind a minimal Flask-WTF form (a page with a CSRF
token, then a POST that checks it): the floor of any form that refuses cross-site posts.
Target: tips/s >= 0.6 x that floor's rate, in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections.abc import Callable

from .stack import MINIMAL, TIPLINE, TipClient, database, served

CLIENT_THREADS = 8


def throughput(work: Callable[[str], bool], seconds: float) -> float:
    """Completed units per second over ``seconds``, from CLIENT_THREADS threads."""
    counter = itertools.count()
    done = [0] * CLIENT_THREADS
    failed = [0] * CLIENT_THREADS
    stop_at = time.monotonic() + seconds

    def run(n: int) -> None:
        while time.monotonic() < stop_at:
            if work(f"bench tip {next(counter)}: seen on Magazine St near Napoleon Ave"):
                done[n] += 1
            else:
                failed[n] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENT_THREADS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if sum(failed):
        raise RuntimeError(f"{sum(failed)} submissions failed")
    return sum(done) / (time.monotonic() - start)


def main(seconds: int, kinds: list[str]) -> None:
    for kind in kinds:
        with database(kind) as db, served(TIPLINE, db) as app_port, served(MINIMAL, db) as mini:
            tips = TipClient(app_port)
            inserts = TipClient(mini)

            def tip(narrative: str, tips: TipClient = tips) -> bool:
                return tips.submit_tip(narrative) is not None

            throughput(tip, 1), throughput(inserts.insert, 1)  # warm up
            best_tips = best_inserts = best_pairs = best_forms = 0.0
            for _ in range(2):
                best_tips = max(best_tips, throughput(tip, seconds))
                best_inserts = max(best_inserts, throughput(inserts.insert, seconds))
                best_pairs = max(best_pairs, throughput(inserts.get_then_insert, seconds))
                best_forms = max(best_forms, throughput(inserts.form_then_insert, seconds))
            ratio = best_tips / best_forms
            verdict = "met" if ratio >= 0.6 else "MISSED"
            print(
                f"gunicorn x2, {kind}: tips (GET form + POST + receipt) {best_tips:7.0f}/s vs "
                f"the Flask-WTF floor {best_forms:7.0f}/s  ratio {ratio:4.2f} "
                f"(target >= 0.6: {verdict}); vs minimal insert+commit {best_inserts:7.0f}/s "
                f"{best_tips / best_inserts:4.2f}",
                flush=True,
            )
            # What two requests cost by themselves: the minimal app's GET /hello, then its
            # insert. A tip is two requests, so this is the ratio no real form can pass.
            print(
                f"gunicorn x2, {kind}: minimal GET + insert {best_pairs:7.0f}/s, ratio "
                f"{best_pairs / best_inserts:4.2f} to the insert alone (the ceiling for two "
                f"requests); tips reach {best_tips / best_pairs:4.2f} of it",
                flush=True,
            )
            # The same insert behind a Flask-WTF form (CSRF token in the session, a rendered
            # page): the floor of any form that refuses cross-site posts.
            print(
                f"gunicorn x2, {kind}: minimal Flask-WTF form (page + checked insert) "
                f"{best_forms:7.0f}/s, ratio {best_forms / best_inserts:4.2f} to the insert "
                f"alone; tips reach {best_tips / best_forms:4.2f} of it",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6, help="length of each run")
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    args = parser.parse_args()
    main(args.seconds, args.databases.split(","))
