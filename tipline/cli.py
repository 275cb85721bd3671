"""The `tipline` command. Also reachable as `flask --app tipline ...`."""

from __future__ import annotations

import logging
import sys

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from werkzeug.serving import WSGIRequestHandler, run_simple

from tipline import db, migrations
from tipline.audit import roles
from tipline.audit.cli import audit_group, ensure_signing_key
from tipline.auth import services as auth
from tipline.auth.models import Role


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Upgrade the database schema to the latest revision.")
@with_appcontext
def db_upgrade() -> None:
    migrations.upgrade(db.engine())
    click.echo(f"Database is at revision {migrations.current_revision(db.engine())}.")


@db_group.command(
    "grant-app-role",
    help="PostgreSQL: give ROLE the application's rights on this database's schema, without "
    "UPDATE/DELETE/TRUNCATE on the audit log or DELETE/TRUNCATE on tips. Run after upgrades.",
)
@click.argument("role")
@click.option("--print-sql", is_flag=True, help="Print the statements instead of running them.")
@with_appcontext
def db_grant_app_role(role: str, print_sql: bool) -> None:
    engine = db.engine()
    if engine.dialect.name != "postgresql":
        raise click.ClickException("Database roles exist only on PostgreSQL.")
    with engine.begin() as connection:
        if print_sql:
            statements = roles.app_role_sql(connection, role)
        else:
            statements = roles.grant_app_role(connection, role)
    for statement in statements:
        click.echo(f"{statement};")
    if not print_sql:
        click.echo(f"Granted the application's rights to {role}.", err=True)


@click.group("user", help="Staff accounts.")
def user_group() -> None:
    pass


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@user_group.command(
    "add", help="Add a staff account. The password is prompted, or read from stdin."
)
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="What they do."
)
@with_appcontext
def user_add(name: str, role: str) -> None:
    password = _read_password()
    session = db.session()
    try:
        user = auth.create_user(
            session,
            name,
            password,
            Role(role),
            "cli",
            min_length=current_app.config["MIN_PASSWORD_LENGTH"],
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    session.commit()
    click.echo(f"Added {user.username} as {Role(role).label}.")


@click.group("notices", help="Wanted-person notices.")
def notices_group() -> None:
    pass


@notices_group.command(
    "purge-expired",
    help="Remove photos and personal details of notices resolved longer ago than "
    "NOTICE_DETAILS_RETENTION_DAYS.",
)
@with_appcontext
def notices_purge_expired() -> None:
    from tipline.notices import workflow

    days = int(current_app.config["NOTICE_DETAILS_RETENTION_DAYS"])
    session = db.session()
    done = workflow.remove_expired_details(session, db.utcnow(), retention_days=days)
    session.commit()
    click.echo(
        f"Removed photos and personal details from {len(done)} notice(s) "
        f"resolved more than {days} days ago."
    )
    for notice in done:
        click.echo(f"  {notice.slug}")


class AnonymousRequestHandler(WSGIRequestHandler):
    """The development server's request log without the client's address.

    Werkzeug's default line starts with the visitor's IP address; ours never records one.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s" %s %s', self.requestline, code, size)

    def address_string(self) -> str:
        return "-"


@click.command("demo", help="Create the demo database and serve it on http://127.0.0.1:5000.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    from tipline import create_app
    from tipline.demo import DEMO_SLUG, seed_demo

    app = create_app({"ENV": "development"})
    with app.app_context():
        migrations.upgrade(db.engine())
        accounts = seed_demo(db.session())
        db.session().commit()
        ensure_signing_key()
    url = f"http://{host}:{port}"
    click.echo(f"Demo database: {app.config['DATABASE_URL']}")
    click.echo(f"Demo notice:   {url}/notices/{DEMO_SLUG}")
    click.echo(f"Staff sign-in: {url}/staff/login (passwords are new on every run)")
    for username, role, password in accounts:
        click.echo(f"  {role.label:<27} {username:<17} {password}")
    click.echo(
        "Leave the code empty at the first sign-in: you then set up an authenticator app "
        "(scan the QR code, or type the key shown) and get recovery codes. Every run starts "
        "the accounts afresh."
    )
    click.echo("Press Ctrl+C to stop.", err=True)
    sys.stdout.flush()
    _serve(app, host, port)


def _serve(app: Flask, host: str, port: int) -> None:
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    run_simple(host, port, app, request_handler=AnonymousRequestHandler, threaded=True)


@click.command("worker", help="Run the background task consumer (e-mails, sweeps).")
@click.option("--workers", default=2, show_default=True, type=int, help="Worker threads.")
@with_appcontext
def worker(workers: int) -> None:
    from huey.consumer import Consumer

    from tipline.jobs import jobs_for

    huey = jobs_for(current_app._get_current_object()).huey  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"Worker started on {type(huey.storage).__name__} with {workers} threads.")
    sys.stdout.flush()
    Consumer(huey, workers=workers, worker_type="thread", periodic=True).run()


def init_app(app: Flask) -> None:
    from tipline.tips import integrity

    # `tipline audit verify` also re-hashes the stored tips against their events.
    app.extensions["tipline.audit_checks"] = [integrity.verify_tips]
    app.cli.add_command(db_group)
    app.cli.add_command(user_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(notices_group)
    app.cli.add_command(worker)


def _make_app() -> Flask:
    from tipline import create_app
    from tipline.config import SecretKeyError

    try:
        return create_app()
    except SecretKeyError as error:
        raise click.ClickException(str(error)) from error


@click.group(help="Tipline: wanted-person notices, anonymous tips and the detectives' queue.")
@click.pass_context
def main(ctx: click.Context) -> None:
    ctx.obj = ScriptInfo(create_app=_make_app, set_debug_flag=False, load_dotenv_defaults=False)


main.add_command(db_group)
main.add_command(user_group)
main.add_command(audit_group)
main.add_command(notices_group)
main.add_command(demo)
main.add_command(worker)
