"""Administrators' screens under /staff/admin/: create staff accounts (there is no sign-up),
change roles and units, disable and re-enable, and reset a lost authenticator.

Administrators manage accounts; they never read tips (see ``web/policy.py``)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from tipline import db, jobs
from tipline.auth import services as auth
from tipline.auth import units
from tipline.auth.forms import (
    ButtonForm,
    ConfirmForm,
    StaffActiveForm,
    StaffCreateForm,
    StaffRoleForm,
    UnitForm,
)
from tipline.auth.models import Role, StaffUser, Unit
from tipline.notices.services import notices_with_unit
from tipline.web import actions
from tipline.web.policy import signed_in_staff

bp = Blueprint("admin", __name__, url_prefix="/staff/admin")


def _target(user_id: int) -> StaffUser:
    user = auth.get_staff(db.session(), user_id)
    if user is None:
        abort(404)
    return user


def _back(user: StaffUser) -> Response:
    return redirect(url_for("admin.staff_edit", user_id=user.id), code=303)


def _unit_choices(form: StaffCreateForm | StaffRoleForm) -> None:
    form.unit.choices = [SelectChoice("", "No unit (every tip)")] + [
        SelectChoice(str(u.id), u.name) for u in units.list_units(db.session())
    ]


def _chosen_unit(form: StaffCreateForm | StaffRoleForm) -> Unit | None:
    """The unit picked in ``form``; ValueError for a value that is not on the list."""
    raw = form.unit.data or ""
    if not raw:
        return None
    found = units.unit_by_id(db.session(), int(raw)) if raw.isdigit() else None
    if found is None:
        raise ValueError("Choose a unit from the list, or “No unit”.")
    return found


def _mail_supervisors(alert_id: int | None) -> None:
    """Queue the supervisors' e-mail for an access alert, after the commit; a queue that is
    down loses only the e-mail (the alert is on the oversight page)."""
    if alert_id is None:
        return
    try:
        jobs.jobs_for(current_app).mail_access_alert(alert_id)
    except Exception:
        current_app.logger.exception("could not queue the e-mail for access alert %s", alert_id)


def _new_alert(user: StaffUser) -> int | None:
    """The id of the access alert the last service call recorded for ``user``, if any."""
    return auth.latest_alert_id(db.session(), user)


def _warn_if_unused(user: StaffUser) -> None:
    """A unit no notice carries hides every notice's tips from its detectives: say so."""
    unit = user.unit
    if (
        unit is not None
        and user.role is Role.DETECTIVE
        and not notices_with_unit(db.session(), unit.id)
    ):
        flash(
            f"No notice carries the unit {unit.name} yet, so {user.username} sees only "
            "tips on no notice until a PIO gives a notice this unit.",
            "warning",
        )


@bp.get("/staff")
def staff_list() -> str:
    return render_template("admin/staff_list.html", users=auth.list_staff(db.session()))


@bp.route("/staff/new", methods=["GET", "POST"])
def staff_create() -> tuple[str, int]:
    form = StaffCreateForm()
    _unit_choices(form)
    if form.validate_on_submit():
        password = auth.new_temporary_password()
        try:
            unit = _chosen_unit(form)
            user = auth.create_user(
                db.session(),
                form.username.data,
                password,
                Role(form.role.data),
                signed_in_staff(),
                min_length=current_app.config["MIN_PASSWORD_LENGTH"],
                unit=unit,
                handed_over=True,
            )
        except ValueError as error:
            db.session().rollback()
            form.username.errors = [*form.username.errors, str(error)]
        else:
            alert = _new_alert(user)
            db.session().commit()
            _mail_supervisors(alert)
            _warn_if_unused(user)
            # The first password is shown in this response only, never stored in the clear.
            return render_template("admin/staff_created.html", user=user, password=password), 200
    return render_template("admin/staff_new.html", form=form), (400 if form.errors else 200)


@bp.get("/staff/<int:user_id>")
def staff_edit(user_id: int) -> str:
    user = _target(user_id)
    role_form = StaffRoleForm(data={"role": user.role.value, "unit": str(user.unit_id or "")})
    _unit_choices(role_form)
    return render_template(
        "admin/staff_edit.html",
        user=user,
        role_form=role_form,
        active_form=StaffActiveForm(data={"active": user.active}),
        confirm_form=ConfirmForm(formdata=None),
        button=ButtonForm(),
        me=signed_in_staff(),
    )


@bp.post("/staff/<int:user_id>/role")
def staff_role(user_id: int) -> Response:
    user = _target(user_id)
    form = StaffRoleForm()
    _unit_choices(form)
    if not form.validate_on_submit():
        abort(400)
    try:
        unit = _chosen_unit(form)
        before = _new_alert(user)
        auth.set_role(db.session(), user, Role(form.role.data), unit, signed_in_staff())
    except ValueError as error:
        db.session().rollback()
        flash(str(error), "error")
    else:
        alert = _new_alert(user)
        db.session().commit()
        _mail_supervisors(alert if alert != before else None)
        flash(f"{user.username} is now {user.role.label}.", "info")
        _warn_if_unused(user)
    return _back(user)


@bp.post("/staff/<int:user_id>/active")
def staff_active(user_id: int) -> Response:
    user = _target(user_id)
    form = StaffActiveForm()
    if not form.validate_on_submit():
        abort(400)
    if user.active and not form.active.data and not form.confirm.data:
        flash("Tick the box to confirm: disabling signs them out everywhere now.", "error")
        return _back(user)
    actions.commit_or_refuse(
        lambda: auth.set_active(db.session(), user, bool(form.active.data), signed_in_staff()),
        ValueError,
        success=lambda _: (
            f"{user.username} "
            + ("can sign in." if user.active else "is disabled and signed out everywhere.")
        ),
    )
    return _back(user)


@bp.post("/staff/<int:user_id>/reset-totp")
def staff_reset_totp(user_id: int) -> Response:
    user = _target(user_id)
    if not ConfirmForm().validate_on_submit():
        flash("Tick the box to confirm: resetting the authenticator signs them out.", "error")
        return _back(user)
    alert = auth.reset_second_factor(db.session(), user, signed_in_staff())
    db.session().commit()
    _mail_supervisors(alert)
    flash(
        f"{user.username}'s authenticator is removed. They set up a new one at their next "
        "sign-in, then choose a new password, and are signed out everywhere until then. "
        "The supervisors are told.",
        "info",
    )
    return _back(user)


@bp.post("/staff/<int:user_id>/unlock")
def staff_unlock(user_id: int) -> Response:
    user = _target(user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    keys = auth.SignInKeys.from_config(current_app.config)
    was_locked = auth.unlock_sign_in(db.session(), user, signed_in_staff(), keys)
    db.session().commit()
    if was_locked:
        flash(f"{user.username} can sign in again now.", "info")
    else:
        flash(f"{user.username} was not locked out.", "info")
    return _back(user)


@bp.post("/staff/<int:user_id>/reset-password")
def staff_reset_password(user_id: int) -> Response | tuple[str, int]:
    """A one-time password, shown once on this page; the person must change it at their next
    sign-in, and the supervisors are told."""
    user = _target(user_id)
    if not ConfirmForm().validate_on_submit():
        flash("Tick the box to confirm: resetting the password signs them out.", "error")
        return _back(user)
    try:
        password, alert = auth.reset_password(
            db.session(), user, signed_in_staff(), current_app.config["MIN_PASSWORD_LENGTH"]
        )
    except ValueError as error:
        db.session().rollback()
        flash(str(error), "error")
        return _back(user)
    db.session().commit()
    _mail_supervisors(alert)
    return render_template("admin/password_reset.html", user=user, password=password), 200


@bp.route("/units", methods=["GET", "POST"])
def units_list() -> Response | tuple[str, int]:
    """The list of units, with how many notices and accounts carry each, and a form to add
    one. Units are never deleted: notices, accounts and the audit log name them."""
    session = db.session()
    form = UnitForm()
    if form.validate_on_submit():
        refusal = actions.commit_or_refuse(
            lambda: units.add_unit(session, signed_in_staff(), form.name.data),
            units.UnitRefused,
            success=lambda unit: f"Unit {unit.name} added. PIOs can now give it to notices.",
            field=form.name,
        )
        if refusal is None:
            return redirect(url_for("admin.units_list"), code=303)
    rows = [
        (unit, notices_with_unit(session, unit.id), units.staff_in_unit(session, unit.id))
        for unit in units.list_units(session)
    ]
    page = render_template("admin/units.html", rows=rows, form=form)
    return page, (400 if form.errors else 200)
