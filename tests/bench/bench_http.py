"""Notice page throughput against the framework's limit, and through nginx against nginx.

Not collected by pytest. Needs wrk (apt-get install -y wrk), nginx for the second part, and
PostgreSQL on 127.0.0.1:5432 (a throw-away database is created and dropped). From the top of
the repository:

    .venv/bin/python -m tests.bench.bench_http

1. gunicorn with deploy/gunicorn.conf.py, 2 workers: the demo notice page against a minimal
   Flask route returning a short string, on SQLite and on PostgreSQL. Target: >= 0.75.
2. The same page through nginx configured by deploy/nginx.conf (its plain-HTTP onion server,
   which has the same locations and proxy cache), against nginx serving a static file of the
   same size from the same configuration's /static/. Target: >= 0.5.

Runs alternate (A, B, A, B) and the best of each is kept, so the other engineers' load on the
shared machine hits both sides alike.
"""

from __future__ import annotations

import argparse
import tempfile
import urllib.request
from pathlib import Path

from ..servers import NginxPrefix, stop
from .stack import MINIMAL, NOTICE_PATH, TIPLINE, database, database_kinds, served, wrk


def side_by_side(a: str, b: str, seconds: int, rounds: int = 2) -> tuple[float, float]:
    best_a = best_b = 0.0
    wrk(a, 1), wrk(b, 1)  # warm up: imports, connections, the page copy in memory
    for _ in range(rounds):
        best_a = max(best_a, wrk(a, seconds))
        best_b = max(best_b, wrk(b, seconds))
    return best_a, best_b


def line(label: str, ours: float, theirs: float, target: float) -> None:
    ratio = ours / theirs
    verdict = "met" if ratio >= target else "MISSED"
    print(
        f"{label:<44} {ours:8.0f} req/s vs {theirs:8.0f} req/s  ratio {ratio:4.2f} "
        f"(target >= {target}: {verdict})",
        flush=True,
    )


def main(seconds: int, kinds: list[str]) -> None:
    for kind in kinds:
        with database(kind) as db, served(TIPLINE, db) as app_port, served(MINIMAL, db) as mini:
            notice, hello = side_by_side(
                f"http://127.0.0.1:{app_port}{NOTICE_PATH}",
                f"http://127.0.0.1:{mini}/hello",
                seconds,
            )
            line(f"gunicorn x2, {kind}: notice page / minimal route", notice, hello, 0.75)

    with database("sqlite") as db, served(TIPLINE, db) as app_port:
        page_url = f"http://127.0.0.1:{app_port}{NOTICE_PATH}"
        with urllib.request.urlopen(page_url) as response:
            size = len(response.read())
        static_root = Path(tempfile.mkdtemp(prefix="tipline-static-"))
        (static_root / "same-size.html").write_bytes(b"x" * size)
        prefix = NginxPrefix(
            Path(tempfile.mkdtemp(prefix="tipline-nginx-")), app_port, static_root, workers=2
        )
        nginx = prefix.start()
        try:
            base = f"http://127.0.0.1:{prefix.onion_port}"
            page, static = side_by_side(
                f"{base}{NOTICE_PATH}", f"{base}/static/same-size.html", seconds
            )
            line(f"nginx (deploy conf): notice page / {size} B file", page, static, 0.5)
        finally:
            stop(nginx)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6, help="length of each wrk run")
    database_kinds(parser)
    args = parser.parse_args()
    main(args.seconds, args.databases.split(","))
