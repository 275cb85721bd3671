"""`tipline audit ...`: verify the chain, write a signed checkpoint, make a signing key."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from tipline.audit import chain, verify
from tipline.audit.checkpoints import (
    CheckpointError,
    load_signing_key,
    new_signing_key,
    write_checkpoint,
)


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
    _verify_tree(report)
    with current_app.extensions["tipline.write_sessionmaker"]() as session:
        verify.save(session, report, config["AUDIT_SIGNING_KEY_FILE"])
        session.commit()
    if report.ok:
        click.echo("OK: the audit log is intact.")
        return
    click.echo(f"FAILED: {report.problem}", err=True)
    sys.exit(1)


def _verify_tree(report: verify.Report) -> None:
    """The Merkle tree and the signed tree heads (``tipline.audit.tree_verify``); a problem
    there fails the run like a problem in the chain."""
    from tipline.audit import heads, tree_verify

    config = current_app.config
    try:
        public_key = load_signing_key(config["AUDIT_SIGNING_KEY_FILE"]).public_key()
    except CheckpointError:
        public_key = None
    with current_app.extensions["tipline.sessionmaker"]() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        found = tree_verify.verify_tree(session, public_key, heads.log_origin(config))
    click.echo(f"Merkle tree: {found.leaves} leaves checked, {found.heads} signed tree heads.")
    for note in found.notes:
        click.echo(f"Note: {note}")
    if found.problem is not None and report.problem is None:
        report.problem = verify.Finding(found.problem)


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
    "sign-tree-head",
    help="Sign the Merkle tree's size and root over the audit events and publish the head.",
)
@with_appcontext
def sign_tree_head_command() -> None:
    from tipline.audit import heads

    config = current_app.config
    try:
        key = load_signing_key(config["AUDIT_SIGNING_KEY_FILE"])
    except CheckpointError as error:
        raise click.ClickException(str(error)) from error
    with current_app.extensions["tipline.write_sessionmaker"]() as session:
        head = heads.sign_tree_head(session, key, heads.log_origin(config))
        session.commit()
    click.echo(f"Signed tree head at size {head.tree_size}:")
    click.echo(head.note, nl=False)


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


@audit_group.command(
    "witness",
    help="Watch a Tipline audit log from outside: fetch its latest signed head, check the "
    "signature against the pinned key and that it extends the head saved last time, then "
    "save it. Exits 1, naming the problem, on a bad signature, rollback, fork or rewrite. "
    "Needs no database or configuration.",
)
@click.argument("url")
@click.option("--key", "pinned_key", help="The log's verifier key (pinned on the first run).")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the last head is kept (default: ~/.local/state/tipline-witness/HOST.json).",
)
@click.option(
    "--cosign-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="This witness's Ed25519 key (PEM): co-sign the head and post it to the log.",
)
@click.option("--name", "cosign_name", help="This witness's name (with --cosign-key).")
@click.option(
    "--compare",
    multiple=True,
    help="Another witness's saved head (a file or URL): fail if the log showed it another "
    "history. May be given more than once.",
)
def witness_command(
    url: str,
    pinned_key: str | None,
    state_file: Path | None,
    cosign_key: Path | None,
    cosign_name: str | None,
    compare: tuple[str, ...],
) -> None:
    from tipline.audit import witness

    if cosign_key is not None and not cosign_name:
        raise click.UsageError("--cosign-key needs --name (the witness's name).")
    key = None
    try:
        if cosign_key is not None:
            key = load_signing_key(cosign_key)
        outcome = witness.run(
            url,
            state_file or witness.default_state_file(url),
            pinned_key,
            cosign_key=key,
            cosign_name=cosign_name,
            compare=list(compare),
        )
    except (witness.WitnessError, CheckpointError) as error:
        click.echo(f"FAILED: {error}", err=True)
        sys.exit(1)
    head = outcome.checkpoint
    for message in outcome.messages:
        click.echo(message)
    click.echo(f"OK: {head.origin} at {head.size} events, root {head.root.hex()}.")


@audit_group.command(
    "new-witness-key",
    help="Create an Ed25519 key for a witness at PATH and print its verifier key, for the "
    "log's AUDIT_WITNESS_KEYS. Needs no database or configuration.",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The witness's name, e.g. monitor.example.org/w1.")
def new_witness_key_command(path: Path, name: str) -> None:
    from tipline.audit import notes

    try:
        new_signing_key(path)
        signer = notes.verifier(name, load_signing_key(path).public_key(), notes.COSIGNATURE_V1)
    except (CheckpointError, notes.NoteError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(signer.vkey)
