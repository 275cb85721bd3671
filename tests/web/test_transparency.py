"""The audit log's transparency log over HTTP: signed tree heads, proofs, co-signatures, and
the witness catching every rewrite an insider holding the database and every key can make."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from tipline import audit
from tipline.audit import heads, merkle, notes, tree, witness
from tipline.audit.checkpoints import load_signing_key, new_signing_key
from tipline.audit.models import AuditEvent, AuditTreeHead
from tipline.auth.models import Role

from ..conftest import as_dba
from .tipster import send_tip

NOW = 1_796_000_000


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def signing_key(app):
    new_signing_key(app.config["AUDIT_SIGNING_KEY_FILE"])
    return load_signing_key(app.config["AUDIT_SIGNING_KEY_FILE"])


@pytest.fixture
def log_vkey(app, signing_key) -> str:
    return notes.verifier(heads.log_origin(app.config), signing_key.public_key()).vkey


def record(session, count: int, label: str = "test.event") -> None:
    for i in range(count):
        audit.record(session, audit.SYSTEM, label, "thing", i, n=i)
    session.commit()


def sign(app, session, key) -> AuditTreeHead:
    head = heads.sign_tree_head(session, key, heads.log_origin(app.config))
    session.commit()
    return head


def over(client):
    """The witness's HTTP, through the Flask test client."""

    def path(url: str) -> str:
        rest = url.split("://", 1)[1]
        return rest[rest.index("/") :]

    def get(url: str) -> witness.Response:
        answer = client.get(path(url))
        return witness.Response(answer.status_code, answer.data)

    def post(url: str, body: bytes) -> witness.Response:
        answer = client.post(path(url), data=body, content_type="text/plain; charset=utf-8")
        return witness.Response(answer.status_code, answer.data)

    return {"get": get, "post": post}


def run_witness(client, state: Path, vkey: str | None, **options):
    return witness.run("http://localhost", state, vkey, **over(client), **options)


@pytest.fixture
def witnessed(app, client, session, signing_key, log_vkey, tmp_path):
    """``witnessed(count)``: ``count`` events recorded and a head signed over them, then seen
    by a witness that pins ``log_vkey`` and keeps its state in ``tmp_path / "w.json"``;
    returns that path and what the witness found."""
    state = tmp_path / "w.json"

    def witness_events(count: int):
        record(session, count)
        sign(app, session, signing_key)
        return state, run_witness(client, state, log_vkey)

    return witness_events


def rewrite(app, session, key, change) -> AuditTreeHead:
    """The insider's rewrite: with the database owner's rights, the audit key and the signing
    key, ``change(connection)`` edits or removes audit rows; the chain is renumbered and
    re-hashed, the tree rebuilt, the old heads removed and a new head signed."""
    events = AuditEvent.__table__
    with as_dba(app) as conn:
        change(conn)
        rows = conn.execute(select(events).order_by(events.c.seq)).all()
        prev = "0" * 64
        leaves = []
        for seq, row in enumerate(rows, start=1):
            fields = {**row._mapping, "seq": seq, "prev_hash": prev}
            fields["row_hash"] = audit.services.hash_of(
                session.info["audit_key"], SimpleNamespace(**fields)
            )
            conn.execute(
                events.update()
                .where(events.c.id == row.id)
                .values(seq=seq, prev_hash=prev, row_hash=fields["row_hash"])
            )
            leaves.append(tree.leaf_hash_of(SimpleNamespace(**fields)))
            prev = fields["row_hash"]
        conn.execute(text("DELETE FROM audit_cosignature"))
        conn.execute(text("DELETE FROM audit_tree_head"))
        conn.execute(text("DELETE FROM audit_tree_node"))
        conn.execute(tree._NODES.insert(), list(tree.levels_from_leaves(leaves)))
    session.expire_all()
    return sign(app, session, key)


def edit_event(seq: int):
    def change(conn):
        conn.execute(
            AuditEvent.__table__.update()
            .where(AuditEvent.__table__.c.seq == seq)
            .values(details={"n": "quietly changed"})
        )

    return change


def delete_events(*seqs: int):
    def change(conn):
        conn.execute(AuditEvent.__table__.delete().where(AuditEvent.__table__.c.seq.in_(seqs)))

    return change


# --- signed tree heads ----------------------------------------------------------------------


def test_a_signed_head_is_a_c2sp_checkpoint_of_the_tree(app, session, signing_key, log_vkey):
    record(session, 5)
    head = sign(app, session, signing_key)
    lines = head.note.split("\n")
    assert lines[0] == "tipline/audit-log"
    assert lines[1] == "5"
    assert base64.b64decode(lines[2]) == head.root_hash == tree.root(session, 5)
    assert lines[3] == f"Timestamp: {int(head.signed_at.timestamp())}"
    assert lines[4] == ""
    assert lines[5].startswith("\u2014 tipline/audit-log ")
    checkpoint = notes.open_note(head.note, notes.parse_vkey(log_vkey))
    assert (checkpoint.size, checkpoint.root) == (5, head.root_hash)
    # The signature covers exactly the text above the blank line.
    signing_key.public_key().verify(head.signature, head.note.split("\n\n")[0].encode() + b"\n")


def test_a_head_signed_by_another_key_or_altered_is_refused(app, session, signing_key, log_vkey):
    record(session, 3)
    head = sign(app, session, signing_key)
    pinned = notes.parse_vkey(log_vkey)
    altered = head.note.replace("\n3\n", "\n2\n", 1)
    with pytest.raises(notes.NoteError, match="forged"):
        notes.open_note(altered, pinned)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = notes.sign(head.note.split("\n\n")[0] + "\n", pinned.name, Ed25519PrivateKey.generate())
    with pytest.raises(notes.NoteError, match="no signature by the pinned key"):
        notes.open_note(other, pinned)


def test_periodic_job_signs_a_head_only_when_the_tree_grew(app, session, signing_key):
    from tipline.jobs import sign_tree_head_if_grown

    record(session, 2)
    assert sign_tree_head_if_grown(app) == 2
    assert sign_tree_head_if_grown(app) == 2
    record(session, 1)
    assert sign_tree_head_if_grown(app) == 3
    assert [h.tree_size for h in heads.history(session)] == [3, 2]


def test_sign_tree_head_command_publishes_a_head(app, runner, session, signing_key):
    record(session, 4)
    result = runner.invoke(args=["audit", "sign-tree-head"])
    assert result.exit_code == 0, result.output
    assert "Signed tree head at size 4" in result.output
    assert heads.latest_head(session).tree_size == 4


# --- the public endpoints -------------------------------------------------------------------


def test_endpoints_serve_heads_proofs_and_key_that_verify(
    app, client, session, signing_key, log_vkey
):
    record(session, 6)
    first = sign(app, session, signing_key)
    record(session, 7)
    second = sign(app, session, signing_key)

    note = client.get("/api/v1/log/checkpoint")
    assert note.status_code == 200 and note.mimetype == "text/plain"
    assert "public" in note.headers["Cache-Control"]
    assert note.get_data(as_text=True) == second.note
    again = client.get("/api/v1/log/checkpoint", headers={"If-None-Match": note.headers["ETag"]})
    assert again.status_code == 304

    key = client.get("/api/v1/log/key").get_json()
    assert key["verifier_key"] == log_vkey and key["algorithm"] == "Ed25519"

    latest = client.get("/api/v1/log/heads/latest").get_json()
    assert latest["tree_size"] == 13 and latest["root_hash"] == second.root_hash.hex()
    history = client.get("/api/v1/log/heads").get_json()
    assert [h["tree_size"] for h in history["heads"]] == [13, 6]

    proof = client.get("/api/v1/log/proof/consistency?first=6&second=13")
    assert "immutable" in proof.headers["Cache-Control"]
    hashes = [bytes.fromhex(h) for h in proof.get_json()["proof"]]
    assert merkle.verify_consistency(6, 13, first.root_hash, second.root_hash, hashes)

    leaf = tree.leaf_hash(session, 4)
    by_index = client.get("/api/v1/log/proof/inclusion?index=4&size=13").get_json()
    by_hash = client.get(f"/api/v1/log/proof/inclusion?leaf_hash={leaf.hex()}").get_json()
    assert by_index == by_hash
    assert by_index["leaf_hash"] == leaf.hex()
    path = [bytes.fromhex(h) for h in by_index["proof"]]
    assert merkle.verify_inclusion(4, 13, leaf, path, second.root_hash)
    assert len(path) <= 4


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/log/proof/consistency?first=7&second=6",
        "/api/v1/log/proof/consistency?first=1&second=99",
        "/api/v1/log/proof/consistency?first=x",
        "/api/v1/log/proof/consistency",
        "/api/v1/log/proof/inclusion?index=6",
        "/api/v1/log/proof/inclusion?leaf_hash=zz",
        "/api/v1/log/heads?limit=0",
    ],
)
def test_bad_proof_requests_are_json_400s(app, client, session, signing_key, query):
    record(session, 6)
    sign(app, session, signing_key)
    answer = client.get(query)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"]


def test_history_pages_back_and_takes_any_number_for_before(app, client, session, signing_key):
    for _ in range(3):
        record(session, 1)
        sign(app, session, signing_key)
    page = client.get("/api/v1/log/heads?limit=2").get_json()
    assert [h["tree_size"] for h in page["heads"]] == [3, 2]
    rest = client.get(f"/api/v1/log/heads?limit=2&before={page['next_before']}").get_json()
    assert [h["tree_size"] for h in rest["heads"]] == [1]
    # Found by fuzzing: a "before" past PostgreSQL's integer range was a 500.
    huge = client.get("/api/v1/log/heads?before=2147483648&limit=1")
    assert huge.status_code == 200 and huge.get_json()["heads"][0]["tree_size"] == 3


def test_before_any_head_the_endpoints_say_so(client):
    for url in ["/api/v1/log/checkpoint", "/api/v1/log/proof/inclusion?index=0"]:
        assert client.get(url).status_code == 404
    assert client.get("/api/v1/log/witnesses").get_json()["cosigned_by"] == []


def test_public_log_endpoints_reveal_no_tip_staff_name_or_receipt(
    app, client, session, signing_key, make_staff, published_notice
):
    staff = make_staff(Role.SUPERVISOR, "marker-staff-zq")
    _, code = send_tip(client, narrative="MARKER-TIP-TEXT at the corner store")
    audit.record(session, staff, "test.staff_action", "tip", 1, note="MARKER-NOTE")
    session.commit()
    head = sign(app, session, signing_key)
    ref = session.scalar(text("SELECT public_ref FROM tip"))
    size = head.tree_size
    urls = [
        "/api/v1/log/checkpoint",
        "/api/v1/log/heads/latest",
        "/api/v1/log/heads",
        "/api/v1/log/key",
        "/api/v1/log/witnesses",
        f"/api/v1/log/proof/consistency?first=1&second={size}",
        *[f"/api/v1/log/proof/inclusion?index={i}" for i in range(size)],
    ]
    seen = ""
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, url
        seen += answer.get_data(as_text=True)
    for marker in [
        "MARKER",
        "marker-staff-zq",
        code,
        code.replace("-", ""),
        ref,
        published_notice.slug,
        "tip.received",
    ]:
        assert marker not in seen, marker


def test_log_endpoints_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path in [
        "/log/checkpoint",
        "/log/heads/latest",
        "/log/heads",
        "/log/key",
        "/log/proof/consistency",
        "/log/proof/inclusion",
        "/log/witnesses",
        "/log/cosignatures",
    ]:
        assert path in document["paths"]


def test_log_reads_are_rate_limited_per_address(app, client, session, signing_key):
    app.config["AUDIT_LOG_RATE_LIMIT"] = "3 per minute"
    record(session, 2)
    sign(app, session, signing_key)
    codes = [client.get("/api/v1/log/proof/inclusion?index=0").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


# --- witnesses -----------------------------------------------------------------------------


@pytest.fixture
def witness_keys(app, tmp_path):
    """Two witnesses, each with a key; the log accepts both."""
    found = {}
    for name in ("monitor.example.org/a", "press.example.net/b"):
        path = tmp_path / f"{name.split('/')[1]}.pem"
        new_signing_key(path)
        key = load_signing_key(path)
        found[name] = key
    app.config["AUDIT_WITNESS_KEYS"] = [
        notes.verifier(n, k.public_key(), notes.COSIGNATURE_V1).vkey for n, k in found.items()
    ]
    return found


def test_witness_saves_the_head_then_accepts_a_consistent_newer_one(
    app, client, session, signing_key, witnessed
):
    state, first = witnessed(5)
    assert first.previous is None and first.checkpoint.size == 5
    record(session, 9)
    sign(app, session, signing_key)
    second = run_witness(client, state, None)  # the key is pinned now
    assert (second.previous.size, second.checkpoint.size) == (5, 14)
    assert json.loads(state.read_text())["checkpoint"].split("\n")[1] == "14"


def test_witness_refuses_a_head_not_signed_by_the_pinned_key(
    app, client, session, signing_key, tmp_path
):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    record(session, 2)
    sign(app, session, signing_key)
    imposter = notes.verifier(
        heads.log_origin(app.config), Ed25519PrivateKey.generate().public_key()
    )
    with pytest.raises(witness.WitnessError, match="BAD SIGNATURE"):
        run_witness(client, tmp_path / "w.json", imposter.vkey)
    assert not (tmp_path / "w.json").exists()


def test_edited_old_event_with_chain_tree_and_head_redone_is_caught(
    app, client, session, signing_key, witnessed
):
    state, _ = witnessed(10)
    saved = state.read_text()

    rewrite(app, session, signing_key, edit_event(3))
    with pytest.raises(witness.WitnessError, match="FORK: the log signed two different trees"):
        run_witness(client, state, None)
    assert state.read_text() == saved  # the witness keeps the evidence

    record(session, 4)  # the insider hides the edit behind newer events
    sign(app, session, signing_key)
    with pytest.raises(witness.WitnessError, match=r"INCONSISTENT: .* 14 events does not extend"):
        run_witness(client, state, None)


def test_deleted_event_is_caught(app, client, session, signing_key, witnessed):
    state, _ = witnessed(10)

    rewrite(app, session, signing_key, delete_events(4))
    with pytest.raises(witness.WitnessError, match=r"ROLLBACK: .* 9 events, fewer than the 10"):
        run_witness(client, state, None)
    record(session, 3)
    sign(app, session, signing_key)
    with pytest.raises(witness.WitnessError, match="INCONSISTENT"):
        run_witness(client, state, None)


def test_truncated_tail_is_caught(app, client, session, signing_key, witnessed):
    state, _ = witnessed(12)

    rewrite(app, session, signing_key, delete_events(10, 11, 12))
    with pytest.raises(witness.WitnessError, match=r"ROLLBACK: .* 9 events, fewer than the 12"):
        run_witness(client, state, None)
    record(session, 5, label="test.replacement")
    sign(app, session, signing_key)
    with pytest.raises(witness.WitnessError, match=r"INCONSISTENT: .* 14 events"):
        run_witness(client, state, None)


def test_forked_log_is_caught_when_witnesses_compare_cosigned_heads(
    app, client, session, signing_key, log_vkey, witness_keys, tmp_path
):
    (a_name, a_key), (b_name, b_key) = witness_keys.items()
    state_a, state_b = tmp_path / "a.json", tmp_path / "b.json"
    record(session, 8)
    sign(app, session, signing_key)
    # Witness A sees the true log and co-signs it.
    run_witness(client, state_a, log_vkey, cosign_key=a_key, cosign_name=a_name)
    listed = client.get("/api/v1/log/witnesses").get_json()
    assert [w["witness"] for w in listed["cosigned_by"]] == [a_name]

    # The log shows witness B, who has not seen it before, a rewritten history, grown on.
    rewrite(app, session, signing_key, edit_event(2))
    record(session, 2)
    sign(app, session, signing_key)
    outcome = run_witness(client, state_b, log_vkey, cosign_key=b_key, cosign_name=b_name)
    assert outcome.cosigned and outcome.checkpoint.size == 10
    listed = client.get("/api/v1/log/witnesses").get_json()
    assert [w["witness"] for w in listed["cosigned_by"]] == [b_name]
    served = client.get("/api/v1/log/checkpoint").get_data(as_text=True)
    assert notes.cosigners(served, heads.witness_keys(app.config)).keys() == {b_name}

    # Each run alone passed. Comparing their co-signed heads exposes the fork.
    with pytest.raises(witness.WitnessError, match=r"FORK between this witness and .*a.json"):
        run_witness(client, state_b, None, compare=[str(state_a)])
    # (A's own next run fails too, since this log now shows A the other history.)
    with pytest.raises(witness.WitnessError, match="INCONSISTENT"):
        run_witness(client, state_a, None, compare=[str(state_b)])


def test_witnesses_that_saw_the_same_log_agree(
    app, client, session, signing_key, log_vkey, tmp_path
):
    record(session, 4)
    sign(app, session, signing_key)
    run_witness(client, tmp_path / "a.json", log_vkey)
    record(session, 3)
    sign(app, session, signing_key)
    outcome = run_witness(client, tmp_path / "b.json", log_vkey, compare=[str(tmp_path / "a.json")])
    assert any("Agrees with" in m for m in outcome.messages)


def test_cosignatures_only_from_configured_witnesses(
    app, client, session, signing_key, witness_keys
):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    record(session, 3)
    head = sign(app, session, signing_key)
    stranger = notes.cosign(head.note, "stranger.example/x", Ed25519PrivateKey.generate(), NOW)
    refused = client.post(
        "/api/v1/log/cosignatures", data=head.note + stranger, content_type="text/plain"
    )
    assert refused.status_code == 400
    assert "no valid co-signature" in refused.get_json()["error"]["message"]
    (name, key), _ = witness_keys.items()
    line = notes.cosign(head.note, name, key, NOW)
    forged = line[:-6] + ("A" if line[-6] != "A" else "B") + line[-5:]
    assert (
        client.post(
            "/api/v1/log/cosignatures", data=head.note + forged, content_type="text/plain"
        ).status_code
        == 400
    )
    not_ours = head.note.replace("\n3\n", "\n4\n")
    assert (
        client.post(
            "/api/v1/log/cosignatures", data=not_ours + line, content_type="text/plain"
        ).status_code
        == 400
    )
    ok = client.post("/api/v1/log/cosignatures", data=head.note + line, content_type="text/plain")
    assert ok.status_code == 201 and ok.get_json() == {"accepted": [name]}
    again = client.post(
        "/api/v1/log/cosignatures", data=head.note + line, content_type="text/plain"
    )
    assert again.status_code == 200
    assert client.get("/api/v1/log/heads/latest").get_json()["cosigned_by"] == [
        {"witness": name, "time": NOW}
    ]


# --- the command, over real HTTP, with nothing but the package ------------------------------


@pytest.fixture
def live_server(app):
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.mark.slow
def test_witness_command_runs_without_configuration_against_a_live_log(
    app, session, signing_key, log_vkey, live_server, tmp_path
):
    import os
    import subprocess
    import sys

    command = str(Path(sys.executable).parent / "tipline")
    # No TIPLINE_* settings, no instance folder, no database: only the package.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env["HOME"] = str(tmp_path / "home")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")

    def tipline(*args):
        return subprocess.run(
            [command, "audit", *args], env=env, cwd=tmp_path, capture_output=True, text=True
        )

    key = tipline("new-witness-key", str(tmp_path / "w.pem"), "--name", "monitor.example/w")
    assert key.returncode == 0, key.stderr
    app.config["AUDIT_WITNESS_KEYS"] = [key.stdout.strip()]
    record(session, 6)
    sign(app, session, signing_key)

    first = tipline(
        "witness",
        live_server,
        "--key",
        log_vkey,
        "--cosign-key",
        str(tmp_path / "w.pem"),
        "--name",
        "monitor.example/w",
    )
    assert first.returncode == 0, first.stderr
    assert "OK: tipline/audit-log at 6 events" in first.stdout
    assert "Co-signed as monitor.example/w." in first.stdout
    assert list((tmp_path / "state" / "tipline-witness").glob("*.json"))

    record(session, 2)
    sign(app, session, signing_key)
    second = tipline("witness", live_server)
    assert second.returncode == 0, second.stderr
    assert "Consistent: 6 -> 8 events" in second.stdout

    rewrite(app, session, signing_key, edit_event(5))
    bad = tipline("witness", live_server)
    assert bad.returncode == 1
    assert "FAILED: FORK: the log signed two different trees of 8 events" in bad.stderr


# --- the tipster's proof on the receipt page ------------------------------------------------


def test_receipt_page_shows_the_inclusion_proof_of_the_tips_arrival(
    app, client, session, signing_key
):
    import re

    from .tipster import open_receipt

    record(session, 3)
    _, code = send_tip(client, narrative="Seen at the ferry")
    page = open_receipt(client, code).headers["Location"]
    before = client.get(page).get_data(as_text=True)
    assert "will be in the next published state of the log" in before

    record(session, 2)
    head = sign(app, session, signing_key)
    shown = client.get(page).get_data(as_text=True)
    assert "Proof that your tip is on record" in shown
    leaf = re.search(r"Hash of the record</dt><dd><code>([0-9a-f]{64})", shown).group(1)
    index = int(re.search(r"Position in the log</dt><dd>(\d+)", shown).group(1))
    proof = [bytes.fromhex(h) for h in re.findall(r"<li><code>([0-9a-f]{64})</code>", shown)]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "tip.received"))
    assert index == event.seq - 1 == 3
    assert bytes.fromhex(leaf) == tree.leaf_hash_of(event)
    assert merkle.verify_inclusion(
        index, head.tree_size, bytes.fromhex(leaf), proof, head.root_hash
    )
    assert head.root_hash.hex() in shown
    link = f"/api/v1/log/proof/inclusion?leaf_hash={leaf}&amp;size={head.tree_size}"
    assert link in shown

    spanish = client.get(page + "?lang=es").get_data(as_text=True)
    assert "Prueba de que su aviso consta en el registro" in spanish


# --- the documented answers: Schemathesis over the log's operations -------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_log_answers_match_the_openapi_document(app, session, signing_key, witness_keys, mode):
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    from . import openapi_fuzz

    app.config["AUDIT_LOG_RATE_LIMIT"] = "100000 per minute"
    app.config["AUDIT_LOG_GLOBAL_RATE_LIMIT"] = "100000 per minute"
    record(session, 11)
    sign(app, session, signing_key)
    operations = openapi_fuzz.operations(app, "/log/")
    assert len(operations) == 8
    for operation in operations:
        # Sizes relate to each other and to the published head (first <= second <= size), and
        # a co-signature must verify: rules a schema cannot state, so schema-valid requests
        # may rightly get a 400. Every other check applies (documented statuses, bodies that
        # match their schemas, content types).
        excluded = [positive_data_acceptance]
        try:
            openapi_fuzz.fuzz(operation, GenerationMode(mode), excluded_checks=excluded)
        except Unsatisfiable:
            # No parameter, no body: nothing to make invalid.
            assert mode == "negative" and operation.method == "get"
