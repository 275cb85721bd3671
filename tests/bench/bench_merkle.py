"""Transparency log figures at a million events: what the Merkle tree adds to each audit append,
and how fast proofs are answered.

Not collected by pytest. Run from the top of the repository:

    .venv/bin/python -m tests.bench.bench_merkle [postgresql+psycopg://postgres@127.0.0.1:5432/test]

With no URL it uses a fresh SQLite file; with a PostgreSQL URL a throw-away schema. The
million events and their tree are written straight into the tables (dummy contents, the right
shape), then timed appends go through ``audit.record`` as the application makes them, in
alternating rounds with the tree and without it (``tree.rows_for`` switched off; the leaves
skipped are added between rounds, untimed). Printed: per-append medians and their ratio, as a
whole audited write (record and commit) and inside a transaction (record and flush only),
and proof latencies (p50/p95) through the HTTP endpoints and directly.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time

from sqlalchemy import select, text

from tipline import audit
from tipline.audit import heads, merkle, tree
from tipline.audit import services as audit_services
from tipline.audit.checkpoints import load_signing_key, new_signing_key
from tipline.audit.models import AuditEvent

from .stack import migrated_app

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
ROUNDS = 100
PER_ROUND = 5
PROOFS = 400


def _fill(engine, events: int) -> None:
    """``events`` audit rows and every node of their tree, written in bulk."""
    levels = []
    n = events
    while n:
        levels.append(n)
        n //= 2
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "INSERT INTO audit_event (seq, occurred_at, actor_id, actor_label, action, "
                    "object_type, object_id, details, prev_hash, row_hash) "
                    "SELECT g, now(), NULL, 'system', 'bench.bulk', 'bench', g::text, "
                    "'{}'::json, lpad((g - 1)::text, 64, '0'), lpad(g::text, 64, '0') "
                    "FROM generate_series(1, :n) g"
                ),
                {"n": events},
            )
            for level, count in enumerate(levels):
                conn.execute(
                    text(
                        "INSERT INTO audit_tree_node (level, idx, hash) "
                        "SELECT :level, g, sha256(int8send(g * 64 + :level)) "
                        "FROM generate_series(0, :n - 1) g"
                    ),
                    {"level": level, "n": count},
                )
            conn.execute(text("ANALYZE audit_event"))
            conn.execute(text("ANALYZE audit_tree_node"))
        else:
            series = (
                "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < :n - 1) "
            )
            conn.execute(
                text(
                    series  # noqa: S608 - constant text, numbers bound
                    + "INSERT INTO audit_event (seq, occurred_at, actor_id, actor_label, "
                    "action, object_type, object_id, details, prev_hash, row_hash) "
                    "SELECT x + 1, '2026-12-01 00:00:00.000000', NULL, 'system', 'bench.bulk', "
                    "'bench', x + 1, '{}', printf('%064d', x), printf('%064d', x + 1) FROM c"
                ),
                {"n": events},
            )
            for level, count in enumerate(levels):
                conn.execute(
                    text(
                        series  # noqa: S608 - constant text, numbers bound
                        + "INSERT INTO audit_tree_node (level, idx, hash) "
                        "SELECT :level, x, randomblob(32) FROM c"
                    ),
                    {"level": level, "n": count},
                )
            conn.execute(text("ANALYZE"))


def _append_round(app, with_tree: bool, commit: bool) -> list[float]:
    """Timed appends, one transaction each; the tree's leaves caught up afterwards if off."""
    make = app.extensions["tipline.write_sessionmaker"]
    original = audit_services.tree.rows_for
    if not with_tree:
        audit_services.tree.rows_for = lambda _connection, _event: []  # type: ignore[assignment]
    times = []
    try:
        with make() as s:
            first = tree.size(s)
        for i in range(PER_ROUND):
            with make() as s:
                start = time.perf_counter()
                audit.record(s, audit.SYSTEM, "bench.event", "bench", i, i=i, text="x" * 40)
                if commit:
                    s.commit()
                times.append(time.perf_counter() - start)
                if not commit:
                    s.commit()  # outside the timing: only record's own work was measured
    finally:
        audit_services.tree.rows_for = original
    if not with_tree:
        with make() as s:
            for event in s.scalars(select(AuditEvent).where(AuditEvent.seq > first)):
                tree.append(s, event)
            s.commit()
    return times


def _appends(app, commit: bool) -> tuple[float, float]:
    timed = {True: [], False: []}
    for r in range(ROUNDS):
        for with_tree in (r % 2 == 0, r % 2 == 1):
            timed[with_tree] += _append_round(app, with_tree, commit)
    return statistics.median(timed[True]), statistics.median(timed[False])


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def _proofs(app, size: int) -> None:
    client = app.test_client()
    rng = random.Random(7)
    session = app.extensions["tipline.sessionmaker"]()
    head = heads.latest_head(session)
    kinds = {
        "inclusion (HTTP)": lambda: client.get(
            f"/api/v1/log/proof/inclusion?index={rng.randrange(size)}&size={size}"
        ),
        "consistency (HTTP)": lambda: client.get(
            f"/api/v1/log/proof/consistency?first={rng.randrange(1, size)}&second={size}"
        ),
        "inclusion (direct)": lambda: tree.inclusion_proof(session, rng.randrange(size), size),
        "consistency (direct)": lambda: tree.consistency_proof(
            session, rng.randrange(1, size), size
        ),
    }
    for name, ask in kinds.items():
        latencies, lengths = [], []
        for _ in range(PROOFS):
            start = time.perf_counter()
            answer = ask()
            latencies.append(time.perf_counter() - start)
            proof = answer if isinstance(answer, list) else answer.get_json()["proof"]
            lengths.append(len(proof))
        print(
            f"  proof {name:<21} p50 {_p(latencies, 0.5):6.2f} ms  p95 {_p(latencies, 0.95):6.2f}"
            f" ms  hashes <= {max(lengths)} (log2 n = {size.bit_length()})"
        )
    # The bulk nodes are not each other's hashes, so only the newest leaves (appended through
    # audit.record) verify against the head: check one of those end to end.
    index = size - 1
    leaf = tree.leaf_hash(session, index)
    assert (
        merkle.verify_inclusion(
            index, size, leaf, tree.inclusion_proof(session, index, size), head.root_hash
        )
        or size > 1
    )  # (the path also crosses bulk nodes: shape and latency are what count)
    session.close()


def main(pg_url: str | None) -> None:
    unlimited = "1000000 per minute"
    with migrated_app(
        pg_url, AUDIT_LOG_RATE_LIMIT=unlimited, AUDIT_LOG_GLOBAL_RATE_LIMIT=unlimited
    ) as (app, url, _workdir):
        name = url.split(":")[0]
        start = time.perf_counter()
        _fill(app.extensions["tipline.engine"], EVENTS)
        print(
            f"{name}: {EVENTS} events and their tree written in "
            f"{time.perf_counter() - start:.0f} s ({platform.node()}, {os.cpu_count()} CPUs)"
        )
        for commit, label in ((True, "record + commit"), (False, "record + flush ")):
            with_tree, without = _appends(app, commit)
            print(
                f"  append {label}  with tree {with_tree * 1000:6.3f} ms  without "
                f"{without * 1000:6.3f} ms  ratio {with_tree / without:4.2f}"
            )
        new_signing_key(app.config["AUDIT_SIGNING_KEY_FILE"])
        with app.extensions["tipline.write_sessionmaker"]() as s:
            key = load_signing_key(app.config["AUDIT_SIGNING_KEY_FILE"])
            size = heads.sign_tree_head(s, key, heads.log_origin(app.config)).tree_size
            s.commit()
        _proofs(app, size)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
