"""Memory: peak RSS of each gunicorn worker after 10,000 mixed requests against after 1,000.

Not collected by pytest. From the top of the repository:

    .venv/bin/python -m tests.bench.bench_memory [--databases sqlite,postgresql]

gunicorn runs with deploy/gunicorn.conf.py and 2 workers, but with worker recycling switched
off (--max-requests 0), so a leak would show instead of being hidden by restarts. The mix:
gallery, notice pages (plain, conditional and with a changing query string, which fills the
bounded page copy store), tip forms, whole tip submissions, /healthz, /readyz, a 404 and the
stylesheet. Peak RSS is the kernel's VmHWM of each worker. Target: <= 1.2 x.
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from pathlib import Path

from ..servers import free_port, start_gunicorn, stop
from .stack import NOTICE_PATH, TIPLINE, TipClient, app_env, database, database_kinds

CLIENT_THREADS = 6
WORKERS = 2


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def workers_of(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def mixed_request(client: TipClient, n: int, etag: str) -> None:
    kind = n % 10
    if kind == 0:
        assert client.submit_tip(f"memory bench tip {n}") is not None
        return
    path = {
        1: "/",
        2: NOTICE_PATH,
        3: f"{NOTICE_PATH}?from=share-{n % 2000}",
        4: f"{NOTICE_PATH}/tip",
        5: "/tip",
        6: "/healthz",
        7: "/readyz",
        8: "/no-such-page",
        9: "/static/css/site.css",
    }.get(kind, NOTICE_PATH)
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    try:
        headers = {"If-None-Match": etag} if kind == 2 and n % 20 == 2 else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 304, 404), (path, response.status)
    finally:
        conn.close()


def drive(client: TipClient, count: int, start: int, etag: str) -> None:
    numbers = iter(range(start, start + count))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            mixed_request(client, n, etag)

    threads = [threading.Thread(target=work) for _ in range(CLIENT_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run(kind: str, first: int, total: int) -> bool:
    with database(kind) as db:
        port = free_port()
        server = start_gunicorn(
            TIPLINE, port, app_env(db), workers=WORKERS, extra=("--max-requests", "0")
        )
        try:
            client = TipClient(port)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", NOTICE_PATH)
            response = conn.getresponse()
            response.read()
            etag = response.getheader("ETag")
            conn.close()
            deadline = time.monotonic() + 30
            while len(workers := workers_of(server.pid)) < WORKERS:
                if time.monotonic() > deadline:
                    raise TimeoutError("gunicorn did not start its workers")
                time.sleep(0.1)
            drive(client, first, 0, etag)
            after_first = {pid: peak_rss_kib(pid) for pid in workers}
            drive(client, total - first, first, etag)
            after_all = {pid: peak_rss_kib(pid) for pid in workers}
            assert workers_of(server.pid) == workers, "a worker was replaced during the run"
        finally:
            stop(server)
    ok = True
    for i, pid in enumerate(workers):
        ratio = after_all[pid] / after_first[pid]
        ok &= ratio <= 1.2
        print(
            f"{kind}: worker {i + 1} peak RSS after {first:,} requests "
            f"{after_first[pid] / 1024:6.1f} MiB, after {total:,} {after_all[pid] / 1024:6.1f} "
            f"MiB  ratio {ratio:4.2f} (target <= 1.2: {'met' if ratio <= 1.2 else 'MISSED'})",
            flush=True,
        )
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=1000)
    parser.add_argument("--total", type=int, default=10000)
    database_kinds(parser)
    args = parser.parse_args()
    results = [run(kind, args.first, args.total) for kind in args.databases.split(",")]
    raise SystemExit(0 if all(results) else 1)
