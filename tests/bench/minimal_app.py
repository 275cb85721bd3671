"""The framework's own limit, for comparison: a minimal Flask app with a route that returns a
short string and an endpoint that inserts one row and commits, on the same database (engine
settings from ``tipline.db.make_engine``: WAL and synchronous=FULL on SQLite)."""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from tipline.db import make_engine

metadata = MetaData()
bench_row = Table(
    "bench_row",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("narrative", Text, nullable=False),
)


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["TIPLINE_DATABASE_URL"])
    metadata.create_all(engine)
    engine.dispose()  # gunicorn preloads: no connection may cross the fork

    @app.get("/hello")
    def hello() -> str:
        return "Hello, World!"

    @app.post("/insert")
    def insert_row() -> str:
        with engine.begin() as conn:
            conn.execute(insert(bench_row).values(narrative=request.form["narrative"]))
        return "saved"

    @app.get("/healthz")
    def healthz() -> str:
        return "ok\n"

    return app
