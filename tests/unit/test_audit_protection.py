"""Nothing deletes a tip or changes an audit row: not the ORM, not a route, not the database
(triggers), and on PostgreSQL not the application's role."""

import pytest
from sqlalchemy import create_engine, delete, func, make_url, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter

from tipline import audit
from tipline.audit.guards import ProtectedRowError
from tipline.audit.models import AuditEvent
from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import Tip, TipStatus

from ..conftest import sign_in

KEY = receipts.receipt_key("k" * 40)


@pytest.fixture
def a_tip(session) -> Tip:
    tip, _code = tips.submit_tip(session, tips.TipReport("Seen at the corner store"), KEY)
    session.commit()
    return tip


def _counts(session: Session) -> tuple[int, int]:
    session.rollback()  # a fresh snapshot
    return (
        session.scalar(select(func.count()).select_from(Tip)),
        session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def test_orm_refuses_to_delete_or_edit_an_audit_row(session, a_tip):
    event = session.scalars(select(AuditEvent)).one()
    session.delete(event)
    with pytest.raises(ProtectedRowError, match="audit_event are never deleted"):
        session.flush()
    session.rollback()
    event.actor_label = "nobody"
    with pytest.raises(ProtectedRowError, match="audit_event are never updated"):
        session.flush()
    session.rollback()
    assert session.scalars(select(AuditEvent.actor_label)).all() == ["public"]


def test_mapper_events_refuse_even_without_the_session_guard(session, a_tip):
    """before_update/before_delete on the class are a second line behind before_flush."""
    from sqlalchemy import event as sa_event

    from tipline.audit import guards

    sa_event.remove(Session, "before_flush", guards.refuse_in_flush)
    try:
        event = session.scalars(select(AuditEvent)).one()
        event.action = "tip.forgotten"
        with pytest.raises(ProtectedRowError):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(Tip)).one())
        with pytest.raises(ProtectedRowError):
            session.flush()
        session.rollback()
    finally:
        sa_event.listen(Session, "before_flush", guards.refuse_in_flush)
    assert _counts(session) == (1, 1)


def test_orm_refuses_bulk_update_and_delete_of_audit_rows_and_tips(session, a_tip):
    for statement in [
        update(AuditEvent).values(actor_label="nobody"),
        delete(AuditEvent),
        delete(AuditEvent).where(AuditEvent.seq == 1),
        delete(Tip),
        delete(Tip.__table__),
    ]:
        with pytest.raises(ProtectedRowError):
            session.execute(statement)
        session.rollback()
    assert _counts(session) == (1, 1)


def test_orm_refuses_to_delete_a_tip_but_lets_it_change(session, a_tip):
    session.delete(a_tip)
    with pytest.raises(ProtectedRowError, match="tip are never deleted"):
        session.flush()
    session.rollback()
    a_tip.status = TipStatus.IN_REVIEW  # tips are worked, just never deleted
    session.execute(update(Tip).values(seen_when="yesterday"))
    session.commit()
    assert _counts(session) == (1, 1)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET actor_label = 'nobody'",
        "DELETE FROM audit_event",
        "DELETE FROM tip",
    ],
)
def test_database_triggers_refuse_changes_that_bypass_the_orm(app, a_tip, statement):
    engine = app.extensions["tipline.engine"]
    refused = pytest.raises(DBAPIError, match="never changes or removes these rows")
    with refused, engine.begin() as conn:
        conn.execute(text(statement))


def test_postgresql_trigger_refuses_truncate(app, a_tip):
    engine = app.extensions["tipline.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    for table in ["audit_event", "tip"]:
        with pytest.raises(DBAPIError, match="TRUNCATE on"), engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))


def test_every_protection_trigger_exists_at_the_head_revision(app):
    """SQLite drops a table's triggers when a batch migration rebuilds the table."""
    engine = app.extensions["tipline.engine"]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = conn.scalars(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            expected = {"audit_event_no_update", "audit_event_no_delete", "tip_no_delete"}
        else:
            names = conn.scalars(
                text(
                    "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.relnamespace = current_schema()::regnamespace "
                    "AND NOT t.tgisinternal AND t.tgenabled = 'O'"
                )
            )
            expected = {
                "audit_event_append_only",
                "audit_event_no_truncate",
                "tip_no_delete",
                "tip_no_truncate",
            }
        assert expected <= set(names)


def test_no_route_accepts_delete(app):
    takes_delete = [r.rule for r in app.url_map.iter_rules() if "DELETE" in r.methods]
    assert takes_delete == []


def test_delete_requests_to_every_route_remove_nothing(app, client, session, make_staff, a_tip):
    sign_in(client, make_staff(Role.SUPERVISOR).username)
    before = _counts(session)
    for rule in app.url_map.iter_rules():
        # Text arguments get the tip's reference, number arguments (photo ids) a 1.
        values = {
            arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else a_tip.public_ref
            for arg in rule.arguments
        }
        url = rule.build(values, append_unknown=False)[1]
        response = client.delete(url)
        assert response.status_code in {403, 404, 405}, (url, response.status_code)
    assert _counts(session) == before


def test_app_role_works_but_cannot_delete_tips_or_change_audit_rows(
    app, runner, database_url, app_role, a_tip
):
    result = runner.invoke(args=["db", "grant-app-role", app_role])
    assert result.exit_code == 0, result.output
    assert "REVOKE UPDATE, DELETE, TRUNCATE ON" in result.output

    as_app = create_engine(make_url(database_url).set(username=app_role))
    try:
        # Everything the application does still works as that role...
        with Session(as_app, info=dict(app.extensions["tipline.sessionmaker"].kw["info"])) as s:
            tip, _code = tips.submit_tip(s, tips.TipReport("Seen again"), KEY)
            tip.status = TipStatus.IN_REVIEW
            audit.record(s, audit.SYSTEM, "tip.status_changed", "tip", tip.public_ref)
            s.commit()
        # ...but the database itself refuses these, before any trigger runs.
        for statement in [
            "DELETE FROM audit_event",
            "UPDATE audit_event SET actor_label = 'nobody'",
            "TRUNCATE audit_event",
            "DELETE FROM tip",
            "TRUNCATE tip CASCADE",
            "DELETE FROM alembic_version",
        ]:
            denied = pytest.raises(ProgrammingError, match="permission denied")
            with denied, as_app.begin() as conn:
                conn.execute(text(statement))
    finally:
        as_app.dispose()


def test_grant_app_role_prints_sql_and_refuses_sqlite(app, runner, database_url):
    result = runner.invoke(args=["db", "grant-app-role", "tipline_app", "--print-sql"])
    if database_url.startswith("sqlite"):
        assert result.exit_code == 1
        assert "only on PostgreSQL" in result.output
        return
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith("REVOKE UPDATE, DELETE, TRUNCATE ON ")
        and line.endswith(".audit_event FROM tipline_app;")
        for line in lines
    )
    assert any(
        line.startswith("REVOKE DELETE, TRUNCATE ON ") and line.endswith(".tip FROM tipline_app;")
        for line in lines
    )
