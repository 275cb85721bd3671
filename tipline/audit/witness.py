"""An outside witness of a Tipline audit log: `tipline audit witness URL`.

Each run fetches the log's latest signed tree head, checks its signature against the pinned
verifier key, checks that it extends the head saved by the previous run (a consistency proof
from the log), and only then saves it. It can co-sign the head and post the co-signature
back, and compare its head with other witnesses' to catch a log that shows different
histories to different people. It needs no database, no configuration and no key of the
log's: the standard library, ``cryptography`` and ``tipline.audit.notes``/``merkle``.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tipline.audit import merkle, notes

CHECKPOINT_PATH = "/api/v1/log/checkpoint"
CONSISTENCY_PATH = "/api/v1/log/proof/consistency"
COSIGNATURE_PATH = "/api/v1/log/cosignatures"
TIMEOUT_SECONDS = 30


class WitnessError(RuntimeError):
    """The run failed; the message says what the witness saw and what it means."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


#: ``get(url)`` and ``post(url, body)``: HTTP for real runs, the Flask test client in tests.
Get = Callable[[str], Response]
Post = Callable[[str, bytes], Response]


def _http_only(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        raise WitnessError(f"{url} is not an http:// or https:// address.")
    return url


def http_get(url: str) -> Response:
    headers = {"User-Agent": "tipline-witness"}
    return _http(urllib.request.Request(_http_only(url), headers=headers))  # noqa: S310


def http_post(url: str, body: bytes) -> Response:
    request = urllib.request.Request(  # noqa: S310 - checked just here
        _http_only(url),
        data=body,
        method="POST",
        headers={"User-Agent": "tipline-witness", "Content-Type": "text/plain; charset=utf-8"},
    )
    return _http(request)


def _http(request: urllib.request.Request) -> Response:
    try:
        # Both callers pass their URL through _http_only (http and https only).
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310  # nosec B310
            return Response(answer.status, answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read())
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise WitnessError(f"Could not reach {request.full_url}: {error}.") from error


@dataclass(frozen=True)
class Outcome:
    checkpoint: notes.Checkpoint
    previous: notes.Checkpoint | None
    cosigned: bool
    messages: list[str]


def default_state_file(url: str) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    host = urlsplit(url).netloc.replace(":", "_") or "log"
    return base / "tipline-witness" / f"{host}.json"


def load_state(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text("utf-8"))
        if not isinstance(state.get("checkpoint"), str) or not state.get("verifier_key"):
            raise ValueError
    except ValueError as error:
        raise WitnessError(f"{path} is not a witness state file.") from error
    return state


def save_state(path: Path, log: notes.Verifier, note: str, now: datetime) -> None:
    """Replace the state file in one step (a crash leaves the old head or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "origin": log.name,
        "verifier_key": log.vkey,
        "checkpoint": note,
        "saved_at": now.isoformat(timespec="seconds"),
    }
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".witness-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def _fetch_checkpoint(base: str, get: Get) -> str:
    answer = get(base + CHECKPOINT_PATH)
    if answer.status != 200:
        raise WitnessError(
            f"The log answered {answer.status} for its latest head ({base}{CHECKPOINT_PATH})."
        )
    try:
        return answer.body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WitnessError("The log's head is not text.") from error


def _consistency_proof(base: str, get: Get, first: int, second: int) -> list[bytes] | None:
    answer = get(f"{base}{CONSISTENCY_PATH}?first={first}&second={second}")
    if answer.status != 200:
        return None
    try:
        return [bytes.fromhex(h) for h in json.loads(answer.body)["proof"]]
    except (ValueError, KeyError, TypeError):
        return None


def check_extends(
    base: str, get: Get, old: notes.Checkpoint, new: notes.Checkpoint, old_label: str
) -> None:
    """Raise ``WitnessError`` unless the head ``new`` extends ``old`` (both already checked
    to be signed by the log)."""
    if new.size < old.size:
        raise WitnessError(
            f"ROLLBACK: the log's head now has {new.size} events, fewer than the {old.size} of "
            f"{old_label}. Events were removed from the log, or this is another log."
        )
    if new.size == old.size:
        if new.root != old.root:
            raise WitnessError(
                f"FORK: the log signed two different trees of {new.size} events: {old_label} "
                "and the one it shows now. Its history was rewritten or it shows different "
                "histories to different people. Keep both heads: they prove it."
            )
        return
    proof = _consistency_proof(base, get, old.size, new.size)
    if proof is None or not merkle.verify_consistency(
        old.size, new.size, old.root, new.root, proof
    ):
        raise WitnessError(
            f"INCONSISTENT: the log's head of {new.size} events does not extend {old_label} "
            f"of {old.size} events: no valid consistency proof. Events up to {old.size} were "
            "changed, removed or reordered. Keep both heads: they prove it."
        )


def run(
    url: str,
    state_file: Path,
    pinned_key: str | None,
    *,
    get: Get = http_get,
    post: Post = http_post,
    cosign_key: Ed25519PrivateKey | None = None,
    cosign_name: str | None = None,
    compare: list[str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """One witness run against the log at ``url``; raises ``WitnessError`` on any problem."""
    now = now or datetime.now(UTC)
    base = url.rstrip("/")
    state = load_state(state_file)
    if pinned_key is None:
        if state is None:
            raise WitnessError(
                "Give the log's verifier key (--key) on the first run; it is pinned from then on."
            )
        pinned_key = state["verifier_key"]
    try:
        log = notes.parse_vkey(pinned_key)
    except notes.NoteError as error:
        raise WitnessError(str(error)) from error
    if state is not None and state["verifier_key"] != log.vkey:
        raise WitnessError(
            f"The key given differs from the one pinned in {state_file}. A log's key does not "
            "change; if it really did, start a new state file and say why in public."
        )
    note = _fetch_checkpoint(base, get)
    try:
        checkpoint = notes.open_note(note, log)
    except notes.NoteError as error:
        raise WitnessError(f"BAD SIGNATURE: {error}") from error
    messages = []
    previous = None
    if state is not None:
        previous = notes.open_note(state["checkpoint"], log)
        check_extends(
            base, get, previous, checkpoint, f"the head saved on {state.get('saved_at', '?')}"
        )
        messages.append(
            f"Consistent: {previous.size} -> {checkpoint.size} events extend the saved head."
        )
    for other in compare or []:
        messages.append(_compare(base, get, log, checkpoint, other))
    save_state(state_file, log, note, now)
    cosigned = False
    if cosign_key is not None:
        _post_cosignature(base, post, note, cosign_key, cosign_name or "", now)
        cosigned = True
        messages.append(f"Co-signed as {cosign_name}.")
    return Outcome(checkpoint, previous, cosigned, messages)


def _other_note(source: str, get: Get) -> str:
    if source.startswith(("http://", "https://")):
        answer = get(source)
        if answer.status != 200:
            raise WitnessError(f"{source} answered {answer.status}.")
        raw = answer.body.decode("utf-8", "replace")
    else:
        try:
            raw = Path(source).read_text("utf-8")
        except OSError as error:
            raise WitnessError(f"Cannot read {source}: {error}.") from error
    try:
        state = json.loads(raw)
    except ValueError:
        return raw
    return state["checkpoint"] if isinstance(state, dict) and "checkpoint" in state else raw


def _compare(base: str, get: Get, log: notes.Verifier, ours: notes.Checkpoint, source: str) -> str:
    """Check another witness's head (a state file, a note, or a URL of either) against ours."""
    try:
        theirs = notes.open_note(_other_note(source, get), log)
    except notes.NoteError as error:
        raise WitnessError(f"The head from {source} is not signed by the log: {error}") from error
    older, newer = (theirs, ours) if theirs.size <= ours.size else (ours, theirs)
    label = f"the head from {source}" if older is theirs else "this witness's head"
    try:
        check_extends(base, get, older, newer, label)
    except WitnessError as error:
        raise WitnessError(
            f"FORK between this witness and {source}: the log signed heads of two histories. "
            f"{error}"
        ) from error
    return f"Agrees with {source} ({theirs.size} events)."


def _post_cosignature(
    base: str, post: Post, note: str, key: Ed25519PrivateKey, name: str, now: datetime
) -> None:
    try:
        line = notes.cosign(note, name, key, int(now.timestamp()))
    except notes.NoteError as error:
        raise WitnessError(str(error)) from error
    answer = post(base + COSIGNATURE_PATH, (note + line).encode("utf-8"))
    if answer.status not in (200, 201):
        try:
            message = json.loads(answer.body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = answer.body[:200].decode("utf-8", "replace")
        raise WitnessError(f"The log refused the co-signature ({answer.status}): {message}")
