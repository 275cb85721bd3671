"""`tipline audit ...`: verify the chain, write a signed checkpoint, make a signing key."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from tipline.audit import chain, verify
from tipline.audit.checkpoints import CheckpointError, new_signing_key, write_checkpoint


@click.group("audit", help="The tamper-evident audit log.")
def audit_group() -> None:
    pass


@audit_group.command(
    "verify",
    help="Walk the chain and the signed checkpoints; exit 1 and name the first bad row "
    "on any edit, deletion, insertion, reordering or truncation.",
)
@with_appcontext
def verify_command() -> None:
    config = current_app.config
    # A plain (deferred) session: the walk reads one snapshot and blocks no writer.
    with current_app.extensions["tipline.sessionmaker"]() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = verify.verify(
            session,
            chain.chain_key(config),
            config["AUDIT_CHECKPOINT_FILE"],
            config["AUDIT_SIGNING_KEY_FILE"],
        )
    click.echo(
        f"Audit log: {report.events} events checked, {report.checkpoints} signed checkpoints."
    )
    click.echo(f"Tips: {report.tips}; {verify.RECEIVED} events: {report.received}.")
    for note in report.notes:
        click.echo(f"Note: {note}")
    with current_app.extensions["tipline.write_sessionmaker"]() as session:
        verify.save(session, report, config["AUDIT_SIGNING_KEY_FILE"])
        session.commit()
    if report.ok:
        click.echo("OK: the audit log is intact.")
        return
    click.echo(f"FAILED: {report.problem}", err=True)
    sys.exit(1)


@audit_group.command(
    "checkpoint", help="Sign the newest row's sequence and hash and append it to the file."
)
@with_appcontext
def checkpoint_command() -> None:
    config = current_app.config
    with current_app.extensions["tipline.sessionmaker"]() as session:
        try:
            checkpoint = write_checkpoint(
                session, config["AUDIT_SIGNING_KEY_FILE"], config["AUDIT_CHECKPOINT_FILE"]
            )
        except CheckpointError as error:
            raise click.ClickException(str(error)) from error
    click.echo(
        f"Checkpoint at sequence {checkpoint.seq} written to {config['AUDIT_CHECKPOINT_FILE']}."
    )


@audit_group.command(
    "new-signing-key", help="Create the Ed25519 key that signs checkpoints (never overwrites)."
)
@with_appcontext
def new_signing_key_command() -> None:
    path = current_app.config["AUDIT_SIGNING_KEY_FILE"]
    try:
        key = new_signing_key(path)
    except CheckpointError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Signing key {key} written to {path}. Keep it off the database server.")


def ensure_signing_key() -> None:
    """Create the signing key if there is none yet (for `tipline demo`)."""
    path = current_app.config["AUDIT_SIGNING_KEY_FILE"]
    if not Path(path).exists():
        new_signing_key(path)
