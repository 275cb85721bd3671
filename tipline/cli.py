"""The `tipline` command. Also reachable as `flask --app tipline ...`."""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from werkzeug.serving import WSGIRequestHandler, run_simple

from tipline import db, jobs, migrations
from tipline.audit import roles
from tipline.audit.cli import audit_group, ensure_signing_key
from tipline.auth import services as auth
from tipline.auth import totp
from tipline.auth.models import Role
from tipline.sealing import SealBroken


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Upgrade the database schema to the latest revision.")
@with_appcontext
def db_upgrade() -> None:
    migrations.upgrade(db.engine())
    click.echo(f"Database is at revision {migrations.current_revision(db.engine())}.")


@db_group.command(
    "downgrade",
    help="Take the schema down to REVISION: an id, or base (default: one revision back).",
)
@click.argument("revision", default="-1")
@with_appcontext
def db_downgrade(revision: str) -> None:
    migrations.downgrade(db.engine(), revision)
    click.echo(f"Database is at revision {migrations.current_revision(db.engine())}.")


@db_group.command("current", help="Print the database's revision.")
@with_appcontext
def db_current() -> None:
    click.echo(migrations.current_revision(db.engine()) or "none (empty database)")


@db_group.command("history", help="List the revisions, oldest first.")
def db_history() -> None:
    for rev, down, title in migrations.history():
        click.echo(f"{down or 'base':>6} -> {rev}  {title}")


@db_group.command(
    "revision",
    help="Write a new revision file in tipline/migrations/versions/. With --autogenerate, "
    "compare the models with the database (which must be at the head revision).",
)
@click.option("-m", "--message", required=True, help="What the revision does (the file's slug).")
@click.option("--rev-id", default=None, help="The revision id (default: a random one).")
@click.option("--autogenerate", is_flag=True, help="Fill in the operations from the models.")
@with_appcontext
def db_revision(message: str, rev_id: str | None, autogenerate: bool) -> None:
    for path in migrations.revision(db.engine(), message, rev_id, autogenerate):
        click.echo(f"Wrote {path}")


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


@user_group.command(
    "seal-totp",
    help="Seal every authenticator secret still stored in clear under the data key "
    "(TIPLINE_DATA_KEY), then check that every sealed one opens. Exit 1 if any does not.",
)
@with_appcontext
def user_seal_totp() -> None:
    session = db.session()
    data_key = current_app.config["DATA_KEY"]
    try:
        sealed = totp.seal_clear_secrets(session, data_key)
    except SealBroken as error:
        raise click.ClickException(str(error)) from error
    session.commit()
    click.echo(f"Sealed {len(sealed)} authenticator secret(s) stored in clear.")
    broken = totp.unopenable_secrets(session, data_key)
    if broken:
        names = ", ".join(u.username for u in broken)
        raise click.ClickException(
            f"{len(broken)} sealed authenticator secret(s) do not open under this data key "
            f"({names}): TIPLINE_DATA_KEY is not the key they were sealed with, so these "
            "accounts cannot sign in. Configure the right key; if it is lost, an "
            "administrator resets each one's authenticator."
        )
    click.echo("Every authenticator secret is sealed and opens under this data key.")


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
@click.option(
    "--no-sample-tips", is_flag=True, help="Do not add the fictional tips to a new demo database."
)
def demo(host: str, port: int, no_sample_tips: bool) -> None:
    from tipline import create_app
    from tipline.demo import DEMO_SLUG, seed_demo
    from tipline.tips.receipts import receipt_key, receipt_secret

    _check_port_free(host, port)  # before the demo accounts are touched
    app = create_app({"ENV": "development"})
    with app.app_context():
        migrations.upgrade(db.engine())
        key = None if no_sample_tips else receipt_key(receipt_secret(app.config))
        accounts = seed_demo(db.session(), key, app.config["DATA_KEY"])
        db.session().commit()
        ensure_signing_key()
    jobs.sign_tree_head_if_grown(app)  # the transparency log's first head
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


def _check_port_free(host: str, port: int) -> None:
    """Refuse, naming --port, when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"Port {port} on {host} is already in use (another demo still running?). "
                f"Stop it, or choose another port: tipline demo --port {port + 1}"
            ) from error


def _serve(app: Flask, host: str, port: int) -> None:
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    run_simple(host, port, app, request_handler=AnonymousRequestHandler, threaded=True)


@click.command("worker", help="Run the background task consumer (e-mails, sweeps).")
@click.option("--workers", default=2, show_default=True, type=int, help="Worker threads.")
@with_appcontext
def worker(workers: int) -> None:
    from huey.consumer import Consumer

    from tipline.jobs import jobs_for

    jobs = jobs_for(current_app._get_current_object())  # type: ignore[attr-defined]
    huey = jobs.huey
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Back from a stop: run what was missed meanwhile, and send what the outbox holds (the
    # queue may have lost every task while the worker was down).
    jobs.catch_up()
    jobs.deliver_outbox()
    click.echo(f"Worker started on {type(huey.storage).__name__} with {workers} threads.")
    sys.stdout.flush()
    Consumer(huey, workers=workers, worker_type="thread", periodic=True).run()


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(user_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(notices_group)
    app.cli.add_command(worker)


def _make_app() -> Flask:
    from tipline import create_app
    from tipline.config import ConfigError, SecretKeyError

    try:
        return create_app()
    except SecretKeyError as error:
        raise click.ClickException(str(error) + _demo_hint()) from error
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


def _demo_hint() -> str:
    """When the instance folder holds a demo's keys: how to run this command on that demo."""
    from tipline import ROOT

    instance = Path(os.environ.get("TIPLINE_INSTANCE_PATH") or ROOT / "instance")
    if os.environ.get("TIPLINE_ENV") or not (instance / "secret_key").exists():
        return ""
    return (
        f"\n\nTo run this command on the demo database in {instance} (the one `tipline demo` "
        "serves), set TIPLINE_ENV=development as the demo does, for example:\n"
        "    TIPLINE_ENV=development tipline user add NAME --role detective"
    )


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
