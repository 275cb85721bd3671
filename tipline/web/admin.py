"""Administrators' screens under /staff/admin/: create staff accounts (there is no sign-up),
change roles and units, disable and re-enable, and reset a lost authenticator.

Administrators manage accounts; they never read tips (see ``auth/policy.py``)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth import services as auth
from tipline.auth.forms import ButtonForm, StaffActiveForm, StaffCreateForm, StaffRoleForm
from tipline.auth.models import Role, StaffUser
from tipline.auth.policy import signed_in_staff

bp = Blueprint("admin", __name__, url_prefix="/staff/admin")


def _target(user_id: int) -> StaffUser:
    user = auth.get_staff(db.session(), user_id)
    if user is None:
        abort(404)
    return user


def _back(user: StaffUser) -> Response:
    return redirect(url_for("admin.staff_edit", user_id=user.id), code=303)


@bp.get("/staff")
def staff_list() -> str:
    return render_template("admin/staff_list.html", users=auth.list_staff(db.session()))


@bp.route("/staff/new", methods=["GET", "POST"])
def staff_create() -> tuple[str, int]:
    form = StaffCreateForm()
    if form.validate_on_submit():
        password = auth.new_temporary_password()
        try:
            user = auth.create_user(
                db.session(),
                form.username.data,
                password,
                Role(form.role.data),
                signed_in_staff(),
                min_length=current_app.config["MIN_PASSWORD_LENGTH"],
                unit=(form.unit.data or "").strip() or None,
            )
        except ValueError as error:
            db.session().rollback()
            form.username.errors = [*form.username.errors, str(error)]
        else:
            db.session().commit()
            # The first password is shown in this response only, never stored in the clear.
            return render_template("admin/staff_created.html", user=user, password=password), 200
    return render_template("admin/staff_new.html", form=form), (400 if form.errors else 200)


@bp.get("/staff/<int:user_id>")
def staff_edit(user_id: int) -> str:
    user = _target(user_id)
    role_form = StaffRoleForm(data={"role": user.role.value, "unit": user.unit or ""})
    return render_template(
        "admin/staff_edit.html",
        user=user,
        role_form=role_form,
        active_form=StaffActiveForm(data={"active": user.active}),
        button=ButtonForm(),
        me=signed_in_staff(),
    )


@bp.post("/staff/<int:user_id>/role")
def staff_role(user_id: int) -> Response:
    user = _target(user_id)
    form = StaffRoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        auth.set_role(db.session(), user, Role(form.role.data), form.unit.data, signed_in_staff())
    except ValueError as error:
        db.session().rollback()
        flash(str(error), "error")
    else:
        db.session().commit()
        flash(f"{user.username} is now {user.role.label}.", "info")
    return _back(user)


@bp.post("/staff/<int:user_id>/active")
def staff_active(user_id: int) -> Response:
    user = _target(user_id)
    form = StaffActiveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        auth.set_active(db.session(), user, bool(form.active.data), signed_in_staff())
    except ValueError as error:
        db.session().rollback()
        flash(str(error), "error")
    else:
        db.session().commit()
        state = "can sign in" if user.active else "is disabled and signed out everywhere"
        flash(f"{user.username} {state}.", "info")
    return _back(user)


@bp.post("/staff/<int:user_id>/reset-totp")
def staff_reset_totp(user_id: int) -> Response:
    user = _target(user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    auth.reset_second_factor(db.session(), user, signed_in_staff())
    db.session().commit()
    flash(
        f"{user.username}'s authenticator is removed. They set up a new one at their next "
        "sign-in, and are signed out everywhere until then.",
        "info",
    )
    return _back(user)


@bp.post("/staff/<int:user_id>/unlock")
def staff_unlock(user_id: int) -> Response:
    user = _target(user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    keys = auth.SignInKeys.from_secret(current_app.secret_key)
    was_locked = auth.unlock_sign_in(db.session(), user, signed_in_staff(), keys)
    db.session().commit()
    if was_locked:
        flash(f"{user.username} can sign in again now.", "info")
    else:
        flash(f"{user.username} was not locked out.", "info")
    return _back(user)
