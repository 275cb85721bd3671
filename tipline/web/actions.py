"""The step every staff POST ends with: call one service in the request's transaction, commit
or roll back, and say how it went.

Services raise a refusal (a ``ValueError`` subclass or ``NotAllowed``) whose text is a plain
sentence for the person; a view names which refusals it expects and where the sentence goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field

from tipline import db

T = TypeVar("T")
Refusals = type[Exception] | tuple[type[Exception], ...]


def commit_or_refuse(
    action: Callable[[], T],
    refused: Refusals,
    *,
    success: str | Callable[[T], str | None] | None = None,
    category: str = "info",
    field: Field | None = None,
) -> Exception | None:
    """Run ``action``. If it returns: commit, then flash ``success`` (a sentence, or one made
    from what the action returned) in ``category``. If it raises one of ``refused``: roll back
    and put the refusal's sentence beside ``field`` (the caller shows the form again, with
    what was typed), or without a field flash it as an error. Returns the refusal, or None."""
    session = db.session()
    try:
        result = action()
    except refused as error:
        session.rollback()
        if field is None:
            flash(str(error), "error")
        else:
            field.errors = [*field.errors, str(error)]
        return error
    session.commit()
    message = success(result) if callable(success) else success
    if message:
        flash(message, category)
    return None


def submit(
    form: FlaskForm,
    action: Callable[[], str],
    refused: Refusals,
    *,
    back: str,
    again: Callable[[], str] | None = None,
    unread: str = "The form could not be read.",
    on_refusal: Callable[[Exception], None] | None = None,
) -> Response | tuple[str, int]:
    """A staff form's whole POST: validate ``form``, run ``action`` (its return is the
    success message), commit, and go ``back``. When the form does not validate or the action
    is refused, say why at the top and show the page ``again()`` (400) with what was typed and
    each field's error beside it; without ``again``, go back. ``on_refusal`` runs after the
    rollback of a refused action (to write the refusal down)."""
    if not form.validate_on_submit():
        flash(form_errors(form, unread), "error")
    else:
        error = commit_or_refuse(action, refused, success=str)
        if error is None:
            return redirect(back, code=303)
        if on_refusal is not None:
            on_refusal(error)
    if again is not None:
        return again(), 400
    return redirect(back, code=303)


def form_errors(form: FlaskForm, unread: str = "The form could not be read.") -> str:
    """Every error of a form that failed validation, as one sentence for a flashed message
    (``unread`` when the form has none to say, as when its token expired)."""
    errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    return " ".join(errors) or unread
