"""Benchmark: first page of each queue view, and a search, at 10k and 1M tips.

Not collected by pytest (the file is not named test_*). Run from the top of the repository:

    .venv/bin/python tests/bench/bench_queue.py                      # SQLite, 10k and 1M
    TIPLINE_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python tests/bench/bench_queue.py --db sqlite postgresql --sizes 10000 1000000

It builds a fresh, migrated database per size (SQLite in a temporary folder; PostgreSQL in a
throw-away schema), bulk-loads tips (SQLite: executemany; PostgreSQL: COPY), then times the
services a page calls (``queue_page`` with its capped counts, ``search_tips``) and prints the
median and p95 in milliseconds and the largest/smallest ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tipline import db, migrations
from tipline.auth.models import Role, StaffUser
from tipline.notices.models import Notice, NoticeStatus
from tipline.tips.models import TipPriority, TipStatus
from tipline.triage import fulltext, search
from tipline.triage.queue import QueueFilters, View, queue_page

NOTICES = 50
DETECTIVES = 20
CHUNK = 20_000
COLUMNS = [
    "public_ref",
    "receipt_hash",
    "notice_id",
    "seen_when",
    "seen_where",
    "narrative",
    "there_now",
    "status",
    "received_at",
    "updated_at",
    "priority",
    "priority_rank",
    "due_at",
    "claimed_by_id",
    "claimed_at",
    "status_reason",
]
STREETS = ["Canal", "Magazine", "Claiborne", "Tchoupitoulas", "Esplanade", "Rampart", "Broad"]
PLACES = ["bus stop", "laundromat", "gas station", "levee", "grocery", "bar", "church", "clinic"]
VEHICLES = ["red sedan", "blue pickup", "white van", "grey hatchback", "black SUV", "bicycle"]


def vocabulary(rng: random.Random, n: int = 3000) -> list[str]:
    letters = "abcdefghijklmnoprstuvwy"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(n)]


def tip_rows(count: int, seed: int, detective_ids: list[int], notice_ids: list[int]):
    """Rows in batches: mostly closed, a working set open, some urgent, due times spread."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    now = db.utcnow()
    statuses = [
        (TipStatus.CLOSED, 55),
        (TipStatus.NO_ACTION, 10),
        (TipStatus.DUPLICATE, 5),
        (TipStatus.NEW, 10),
        (TipStatus.IN_REVIEW, 10),
        (TipStatus.NEEDS_INFO, 4),
        (TipStatus.ACTIONABLE, 4),
        (TipStatus.FORWARDED, 2),
    ]
    status_pool = [s for s, w in statuses for _ in range(w)]
    priority_pool = [TipPriority.URGENT] * 2 + [TipPriority.HIGH] * 10
    priority_pool += [TipPriority.NORMAL] * 70 + [TipPriority.LOW] * 18
    batch = []
    for _i in range(count):
        received = now - timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
        status = rng.choice(status_pool)
        priority = rng.choice(priority_pool)
        claimed = status not in (TipStatus.NEW,)
        narrative = " ".join(
            [
                f"Saw her near the {rng.choice(PLACES)} on {rng.choice(STREETS)}",
                f"driving a {rng.choice(VEHICLES)}",
                *rng.sample(words, 12),
            ]
        )
        batch.append(
            (
                os.urandom(12).hex(),
                os.urandom(32),
                pick_notice(rng, notice_ids),
                "",
                f"{rng.randint(100, 4999)} {rng.choice(STREETS)} St",
                narrative,
                priority is TipPriority.URGENT,
                status.value,
                received,
                received,
                priority.value,
                priority.rank,
                received + timedelta(hours=rng.choice([1, 4, 72, 336])),
                rng.choice(detective_ids) if claimed else None,
                received + timedelta(minutes=5) if claimed else None,
                "",
            )
        )
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def pick_notice(rng: random.Random, notice_ids: list[int]) -> int | None:
    """30 % of tips are on the first notice (the one in the news), 60 % spread over all of
    them, 10 % on none: so the notice-filtered cases fill a page of 50 at 10k tips too."""
    pick = rng.random()
    if pick < 0.3:
        return notice_ids[0]
    return rng.choice(notice_ids) if pick < 0.9 else None


def seed_people(session: Session) -> tuple[list[int], list[int]]:
    now = db.utcnow()
    session.execute(
        insert(StaffUser),
        [
            {"username": f"det{i}", "password_hash": "x", "role": Role.DETECTIVE}
            for i in range(DETECTIVES)
        ],
    )
    session.execute(
        insert(Notice),
        [
            {
                "slug": f"notice-{i}",
                "subject_name": f"Subject {i}",
                "aliases": "",
                "description": "",
                "caution": "",
                "reward_text": "",
                "status": NoticeStatus.PUBLISHED,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(NOTICES)
        ],
    )
    session.commit()
    return (
        list(session.scalars(select(StaffUser.id))),
        list(session.scalars(select(Notice.id))),
    )


def load(engine, count: int) -> None:
    maker = sessionmaker(bind=engine)
    with maker() as session:
        detective_ids, notice_ids = seed_people(session)
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"DROP INDEX IF EXISTS {fulltext.PG_INDEX}"))
        raw = engine.raw_connection()
        try:
            copy_sql = f"COPY tip ({', '.join(COLUMNS)}) FROM STDIN"
            with raw.cursor() as cur, cur.copy(copy_sql) as copy:
                for batch in tip_rows(count, 5, detective_ids, notice_ids):
                    for row in batch:
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        with engine.begin() as conn:
            conn.execute(text(fulltext.pg_index_sql()))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        # The driver directly, in SQLAlchemy's storage format for UTC timestamps; the full-text
        # triggers stay on, so the index is built the way production builds it.
        def stored(value: object) -> object:
            if isinstance(value, datetime):
                return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            return value

        marks = ", ".join("?" for _ in COLUMNS)
        sql = f"INSERT INTO tip ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN")
            for batch in tip_rows(count, 5, detective_ids, notice_ids):
                cursor.executemany(sql, [tuple(stored(v) for v in row) for row in batch])
            cursor.execute("COMMIT")
            cursor.execute("ANALYZE")
        finally:
            raw.close()
    print(f"  loaded {count:,} tips in {time.perf_counter() - started:.0f} s", flush=True)


def timed(fn, runs: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(engine, runs: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each run is what a request does: a fresh session, load the signed-in user, call the
    service (which runs the count, page, notice, claimer and tag statements)."""
    maker = sessionmaker(bind=engine, expire_on_commit=False)
    with maker() as session:
        detective_id = session.scalar(select(StaffUser.id).order_by(StaffUser.id))
        notice_id = session.scalar(select(Notice.id).order_by(Notice.id))
    results: dict[str, list[float]] = {}
    shown: dict[str, int] = {}  # rows on the page, so pages of the same size are compared
    cases = {f"queue:{v.value}": (v, QueueFilters()) for v in View}
    cases["queue:new+notice"] = (View.NEW, QueueFilters(notice_id=notice_id))
    cases["queue:all+urgent"] = (View.ALL, QueueFilters(urgent_only=True))
    for name, (view, filters) in cases.items():

        def run(view=view, filters=filters, name=name) -> None:
            with maker() as session:
                detective = session.get(StaffUser, detective_id)
                page = queue_page(session, detective, view, filters, limit=50)
                assert page.tips, view
                shown[name] = len(page.tips)

        results[name] = timed(run, runs)

    def find(name: str, query: str, filters: QueueFilters | None = None) -> None:
        with maker() as session:
            detective = session.get(StaffUser, detective_id)
            found = search.search_tips(session, detective, query, filters, limit=50)
            assert found.hits
            shown[name] = len(found.hits)

    searches = {
        "search:'blue pickup levee'": ("blue pickup levee", None),
        "search:'tchoupitoulas'+notice": ("tchoupitoulas", QueueFilters(notice_id=notice_id)),
    }
    for name, (query, filters) in searches.items():
        results[name] = timed(lambda n=name, q=query, f=filters: find(n, q, f), runs)
    return results, shown


def database(kind: str, workdir: Path):
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.sqlite3"
        return db.make_engine(f"sqlite:///{path}"), lambda: path.unlink(missing_ok=True)
    base = os.environ.get("TIPLINE_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("Set TIPLINE_TEST_DATABASE_URL for the PostgreSQL run.")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = db.make_engine(url.render_as_string(hide_password=False))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db:
            table: dict[int, dict[str, list[float]]] = {}
            rows: dict[int, dict[str, int]] = {}
            for size in args.sizes:
                print(f"{kind}: {size:,} tips", flush=True)
                engine, cleanup = database(kind, Path(tmp))
                try:
                    migrations.upgrade(engine)
                    load(engine, size)
                    table[size], rows[size] = measure(engine, args.runs)
                finally:
                    engine.dispose()
                    cleanup()
            small, large = min(args.sizes), max(args.sizes)
            print(f"\n{kind} — milliseconds over {args.runs} runs (page of 50, capped counts)")
            header = f"{'case':34}" + "".join(
                f"{f'{s:,} med':>15}{f'{s:,} p95':>15}" for s in args.sizes
            )
            print(header + (f"{'ratio p95':>11}" if large != small else "") + "  rows")
            for case in table[small]:
                line = f"{case:34}"
                for size in args.sizes:
                    values = table[size][case]
                    line += f"{statistics.median(values):15.1f}{p95(values):15.1f}"
                if large != small:
                    line += f"{p95(table[large][case]) / p95(table[small][case]):11.2f}"
                print(line + "  " + "/".join(str(rows[size][case]) for size in args.sizes))
            print(flush=True)


if __name__ == "__main__":
    main()
