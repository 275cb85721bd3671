"""No trace of the visitor: address, forwarded-for, user agent and referrer appear nowhere.

Tips with photos, receipt lookups and an answer are sent carrying marker values; then the
application's logs, every byte of the database (SQLite file and its WAL, or every row of every
PostgreSQL table), the rate limiter's storage (memory or Redis) and the session cookie are
searched for them.
"""

import logging
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url, select, text

from tipline import create_app, db
from tipline.auth import services as auth
from tipline.auth.models import Role
from tipline.notices.models import Notice
from tipline.rewards import services as rewards
from tipline.rewards.models import OutcomeKind
from tipline.tips.models import Tip
from tipline.web import limits

from ..conftest import (
    PASSWORD,
    REDIS_URL,
    app_config,
    csrf_token,
    publish_new_notice,
    receipt_code_on,
    sign_in,
)
from ..unit.test_media import jpeg_with_gps
from .tipster import open_receipt, send_tip

MARKS = {
    "REMOTE_ADDR": "203.0.113.77",
    "HTTP_X_FORWARDED_FOR": "198.51.100.23",
    "HTTP_USER_AGENT": "Mozilla/5.0 TrackMeAgent/9.9",
    "HTTP_REFERER": "https://referrer.example/secret-page",
}
NEEDLES = ["203.0.113.77", "198.51.100.23", "TrackMeAgent", "referrer.example", "secret-page"]


def _visit(client) -> None:
    """Everything a tipster does, every request carrying the markers."""
    _, code = send_tip(
        client, photos=[jpeg_with_gps(), jpeg_with_gps()], environ=MARKS, contact="Ask for Sam"
    )
    assert code
    send_tip(client, "/tip", environ=MARKS, website="bot")  # honeypot
    open_receipt(client, "7K3M-QX9P-2D4F-HJ8R-WN5T", MARKS)  # a wrong code
    assert open_receipt(client, code, MARKS).status_code == 303
    client.get("/receipt", environ_base=MARKS)
    client.post(
        "/receipt/answer",
        data={"csrf_token": csrf_token(client, "/receipt"), "body": "More: red jacket"},
        environ_base=MARKS,
    )


def _database_dump(app) -> bytes:
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        wal = Path(f"{path}-wal")
        dump = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert wal.exists(), "the WAL should hold the most recent writes"
        return dump
    rows = []
    with app.app_context(), db.engine().connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - real names
                rows.append(repr(tuple(row)))
    return "\n".join(rows).encode()


def _limiter_dump(app, kind: str, redis_client) -> bytes:
    if kind == "memory":
        storage = limits.limiter_for(app).storage
        return repr((dict(storage.storage), storage.expirations, storage.events)).encode()
    parts = []
    for key in redis_client.keys("*"):
        parts.append(key + b"=" + repr(redis_client.dump(key)).encode())
    return b"\n".join(parts)


@pytest.mark.parametrize("limiter_storage", ["memory", "redis"])
def test_no_address_agent_or_referrer_is_logged_stored_limited_or_cookied(
    database_url, tmp_path, caplog, limiter_storage, request
):
    config = app_config(database_url, tmp_path / "instance")
    redis_client = None
    if limiter_storage == "redis":
        redis_client = request.getfixturevalue("redis_db")
        config["REDIS_URL"] = REDIS_URL
    caplog.set_level(logging.DEBUG)  # every logger, everything
    app = create_app(config)
    try:
        client = app.test_client()
        _visit(client)

        dump = _database_dump(app)
        assert b"More: red jacket" in dump  # the dump did read what was written
        stored = _limiter_dump(app, limiter_storage, redis_client)
        assert b"tip-post" in stored and b"receipt-lookup" in stored  # counters were kept
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        session_data = repr(app.session_interface.get_signing_serializer(app).loads(cookie.value))
        logs = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)

        places = {
            "logs": logs.encode(),
            "database": dump,
            "limiter": stored,
            "cookie": cookie.value.encode() + session_data.encode(),
        }
        hits = [
            (where, needle)
            for where, blob in places.items()
            for needle in NEEDLES
            if needle.encode() in blob or needle.lower().encode() in blob.lower()
        ]
        assert hits == []
    finally:
        app.extensions["tipline.engine"].dispose()


def test_the_payout_flow_stores_no_address_or_agent_of_tipster_or_presenter(
    database_url, tmp_path, caplog
):
    """The tipster asks for a payout code and the desk pays it, every request carrying the
    markers (the desk's browser stands in for whoever presents the code): none is kept."""
    caplog.set_level(logging.DEBUG)
    app = create_app(app_config(database_url, tmp_path / "instance"))
    try:
        maker = app.extensions["tipline.sessionmaker"]
        with maker() as s:
            publish_new_notice(s)
            people = {
                name: auth.create_user(s, name, PASSWORD, role, "test")
                for name, role in [
                    ("det", Role.DETECTIVE),
                    ("c1", Role.COORDINATOR),
                    ("c2", Role.COORDINATOR),
                    ("desk", Role.PAYOUT_DESK),
                ]
            }
            s.commit()
            slug = s.scalar(select(Notice.slug))
        tipster = app.test_client()
        _, code = send_tip(tipster, f"/notices/{slug}/tip", environ=MARKS)
        rules = rewards.RewardRules()
        with maker() as s:
            tip = s.scalar(select(Tip))
            users = {k: s.merge(v) for k, v in people.items()}
            rewards.record_outcome(s, users["det"], tip, OutcomeKind.ARREST, "K-1")
            reward = rewards.propose_reward(s, users["c1"], tip.public_ref, 500, "x", rules)
            rewards.approve_reward(s, users["c2"], reward.id, "", rules)
            s.commit()
        assert open_receipt(tipster, code, MARKS).status_code == 303
        shown = tipster.post(
            "/receipt/payout-code",
            data={"csrf_token": csrf_token(tipster, "/receipt")},
            environ_base=MARKS,
        ).get_data(as_text=True)
        payout_code = receipt_code_on(shown.split("payout-code", 1)[1])
        desk = app.test_client()
        desk.environ_base.update(MARKS)
        assert sign_in(desk, "desk").status_code == 303
        for url in ("/staff/payout", "/staff/payout/pay"):
            token = csrf_token(desk, "/staff/payout")
            desk.post(url, data={"csrf_token": token, "code": payout_code})
        assert "Paid 500 USD" in desk.get("/staff/payout").get_data(as_text=True)

        dump = _database_dump(app)
        assert b"reward.paid" in dump  # the dump did read what was written
        logs = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
        hits = [
            (where, needle)
            for where, blob in {"logs": logs.encode(), "database": dump}.items()
            for needle in NEEDLES
            if needle.encode() in blob or needle.lower().encode() in blob.lower()
        ]
        assert hits == []
        assert (
            payout_code.encode() not in dump and payout_code.replace("-", "").encode() not in dump
        )
    finally:
        app.extensions["tipline.engine"].dispose()
