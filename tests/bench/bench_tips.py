"""Tip submission throughput against a minimal Flask endpoint that inserts one row and commits.

Not collected by pytest. From the top of the repository (PostgreSQL on 127.0.0.1:5432 for the
second half; a throw-away database is created and dropped):

    .venv/bin/python -m tests.bench.bench_tips

One tip is what a browser does: GET the tip form, POST it with its CSRF token and session
cookie, and receive the receipt page, which is sent only after the tip and its audit event have
committed. The minimal endpoint is one POST that inserts one row and commits, on the same
database with the same engine settings, under the same gunicorn settings (2 workers). The same
client (threads on loopback) drives both.

More baselines show where a tip sits: the minimal app's GET /hello then its insert (two
requests doing nothing); the insert behind a minimal Flask-WTF form (a page with a CSRF token,
then a POST that checks it), the floor of any form that refuses cross-site posts; and that
form doing a tip's own durable work instead of its one insert (``/form-tip``: the tips
domain's ``submit_tip``, with its receipt code, sealing, audit event, chain and tree, then
COMMIT), which no tip path keeping that work can pass. Every side runs once per round, the
rounds interleaved; ratios are medians of per-round ratios. Target: tips/s >= 0.8 x the
durable-work form's rate (docs/performance.md says why not 0.6 x the floor's).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import threading
import time
from collections.abc import Callable

from .stack import MINIMAL, TIPLINE, TipClient, database, database_kinds, served

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


def main(seconds: int, rounds: int, kinds: list[str]) -> None:
    for kind in kinds:
        with database(kind) as db, served(TIPLINE, db) as app_port, served(MINIMAL, db) as mini:
            tips = TipClient(app_port)
            baselines = TipClient(mini)

            def tip(narrative: str, tips: TipClient = tips) -> bool:
                return tips.submit_tip(narrative) is not None

            sides: dict[str, Callable[[str], bool]] = {
                "tips": tip,
                "floor": baselines.form_then_insert,
                "work": baselines.form_then_tip_work,
                "insert": baselines.insert,
                "pair": baselines.get_then_insert,
            }
            for work in sides.values():
                throughput(work, 1)  # warm up
            rates: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(rounds):  # interleaved: other load on the machine weighs on all
                for name, work in sides.items():
                    rates[name].append(throughput(work, seconds))
            _report(kind, rates)


def _report(kind: str, rates: dict[str, list[float]]) -> None:
    """Each ratio is the median over rounds of the two sides' rates in the same round."""

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))

    def rate(name: str) -> str:
        return f"{statistics.median(rates[name]):7.0f}/s"

    tips_floor, tips_work = ratio("tips", "floor"), ratio("tips", "work")
    print(
        f"gunicorn x2, {kind}, {len(rates['tips'])} rounds (medians):\n"
        f"  tips (GET form + POST + receipt) {rate('tips')}\n"
        f"  the Flask-WTF floor (form page + checked insert) {rate('floor')}: "
        f"tips/floor {tips_floor:4.2f} (the issue's 0.6: "
        f"{'met' if tips_floor >= 0.6 else 'not met'})\n"
        f"  the floor doing a tip's durable work (submit_tip + COMMIT) {rate('work')}: "
        f"work/floor {ratio('work', 'floor'):4.2f}, tips/work {tips_work:4.2f} "
        f"(target >= 0.8: {'met' if tips_work >= 0.8 else 'MISSED'})\n"
        f"  minimal insert + commit {rate('insert')}: tips/insert {ratio('tips', 'insert'):4.2f}\n"
        f"  minimal GET + insert {rate('pair')}: pair/insert {ratio('pair', 'insert'):4.2f}, "
        f"floor/insert {ratio('floor', 'insert'):4.2f}",
        flush=True,
    )
    for name, found in rates.items():
        print(f"  {name:6} per round: {', '.join(f'{r:.0f}' for r in found)}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="length of each run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    database_kinds(parser)
    args = parser.parse_args()
    main(args.seconds, args.rounds, args.databases.split(","))
