from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from tipline.auth.models import Role

_ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in Role]
_USERNAME = Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    message="Use letters, digits, dots, dashes and underscores only.",
)


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(message="Enter your username."), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        "Code from your authenticator app",
        description="Six digits, or one of your recovery codes. Leave it empty the first time "
        "you sign in: you will set up the app next.",
        validators=[Optional(), Length(max=32)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
    )


class EnrolForm(FlaskForm):
    code = StringField(
        "Code shown by the app",
        description="Six digits. It changes every 30 seconds.",
        validators=[DataRequired(message="Enter the six-digit code from the app."), Length(max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[DataRequired(message="Enter your current password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        "New password",
        description="At least 12 characters. Several random words are easy to type and hard "
        "to guess. Common passwords are refused.",
        validators=[DataRequired(message="Enter a new password."), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "New password again",
        validators=[
            DataRequired(message="Type the new password again."),
            EqualTo("new", message="The two new passwords are not the same."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class StaffCreateForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(message="Enter a username."), Length(max=64), _USERNAME],
        render_kw={"autocapitalize": "none", "spellcheck": "false"},
    )
    role = SelectField("Role", choices=_ROLE_CHOICES)
    unit = SelectField(
        "Unit",
        description="A detective with a unit reads only tips on that unit's notices and tips "
        "on no notice. Units are kept on the Units page.",
        validate_choice=False,  # the choices are the unit list, checked by the view
    )


class StaffRoleForm(FlaskForm):
    role = SelectField("Role", choices=_ROLE_CHOICES)
    unit = SelectField("Unit", validate_choice=False)


class UnitForm(FlaskForm):
    name = StringField(
        "Unit name",
        validators=[DataRequired(message="Enter the unit's name."), Length(max=64)],
    )


class StaffActiveForm(FlaskForm):
    active = BooleanField("Account can sign in")
    confirm = BooleanField("Yes, sign them out everywhere now (needed to disable)")


class ConfirmForm(FlaskForm):
    """A button for an action that signs someone out everywhere: it needs a ticked box."""

    confirm = BooleanField(
        "Yes, sign them out everywhere now",
        validators=[DataRequired(message="Tick the box to confirm: this signs them out.")],
    )


class ButtonForm(FlaskForm):
    """No fields: gives a POST-only button (sign out, claim, close) its CSRF token."""
