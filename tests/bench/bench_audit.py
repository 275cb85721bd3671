"""Audit log figures: events written per second (one and four writers) and verification speed.

Not collected by pytest. Run from the top of the repository:

    .venv/bin/python -m tests.bench.bench_audit [postgresql+psycopg://postgres@127.0.0.1:5432/test]

With no URL it uses a fresh SQLite file; with a PostgreSQL URL it works in a throw-away schema.
"""

from __future__ import annotations

import sys
import threading
import time

from tipline import audit
from tipline.audit import chain
from tipline.audit import verify as audit_verify

from .stack import migrated_app


def _write(app, writers: int, each: int) -> float:
    make = app.extensions["tipline.write_sessionmaker"]

    def work(n: int) -> None:
        for i in range(each):
            with make() as s:
                audit.record(s, audit.SYSTEM, "bench.event", "bench", n, i=i)
                s.commit()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return writers * each / (time.perf_counter() - start)


def main(pg_url: str | None) -> None:
    with migrated_app(pg_url) as (app, url, workdir):
        print(f"{url.split(':')[0]}: 1 writer   {_write(app, 1, 500):8.0f} events/s")
        print(f"{url.split(':')[0]}: 4 writers  {_write(app, 4, 250):8.0f} events/s")
        with app.extensions["tipline.sessionmaker"]() as s:
            start = time.perf_counter()
            report = audit_verify.verify(
                s, chain.chain_key(app.config), workdir / "none", workdir / "none"
            )
            seconds = time.perf_counter() - start
        assert report.events == 1500, report
        print(f"{url.split(':')[0]}: verify     {report.events / seconds:8.0f} events/s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
