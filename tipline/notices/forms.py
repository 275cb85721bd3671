"""The PIO's forms: the notice record (with repeated charge and contact rows), review,
resolution and photos. Rows left blank are ignored, so a fixed number of blank rows plus an
"add another row" button works without JavaScript."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from tipline.notices.models import (
    TRANSLATED_FIELDS,
    TRANSLATION_LANGUAGES,
    ContactLine,
    Notice,
    PhoneInvalid,
    Resolution,
    Severity,
    format_phone,
)
from tipline.notices.services import (
    ChargeDraft,
    ContactDraft,
    NoticeDraft,
    pending_draft,
)

BLANK_CHARGE_ROWS = 2
BLANK_CONTACT_ROWS = 1
MAX_ROWS = 30


class PlainDateField(DateField):
    """A date field whose parse error says what to type."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("Enter the date as year-month-day, for example 2026-03-14.") from None


class PlainIntegerField(IntegerField):
    """A whole-number field whose parse error says what to type (``parse_message``)."""

    def __init__(self, *args: Any, parse_message: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parse_message = parse_message

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(self.parse_message) from None


def _short(label: str, n: int, **kw: Any) -> StringField:
    return StringField(
        label, validators=[Length(max=n, message=f"Please keep this under {n} characters.")], **kw
    )


def _long(label: str, n: int = 5000, **kw: Any) -> TextAreaField:
    return TextAreaField(
        label,
        validators=[Length(max=n, message=f"Please keep this under {n:,} characters.")],
        **kw,
    )


def _row_is_blank(form: Form) -> bool:
    """A row with nothing typed (the class menu always has a value, so it does not count)."""
    for f in form:
        if f.type == "SelectField":
            continue
        if f.raw_data:
            if str(f.raw_data[0]).strip():
                return False
        elif f.data:
            return False
    return True


class ChargeRow(Form):
    citation = _short("Statute citation", 120, description="For example “La. R.S. 14:134”.")
    description = _short("Charge", 300)
    severity = SelectField(
        "Class",
        choices=[
            SelectChoice(Severity.FELONY.value, "Felony"),
            SelectChoice(Severity.MISDEMEANOR.value, "Misdemeanor"),
        ],
        default=Severity.FELONY.value,
    )
    warrant_date = PlainDateField("Warrant date", validators=[Optional()])

    def validate_citation(self, field: StringField) -> None:
        if not _row_is_blank(self) and not (field.data or "").strip():
            raise ValidationError("Give the statute citation for this charge.")

    def validate_description(self, field: StringField) -> None:
        if not _row_is_blank(self) and not (field.data or "").strip():
            raise ValidationError("Say what the charge is, in words.")


def _needs_english_note(english: str | None, field: StringField) -> None:
    if (field.data or "").strip() and not (english or "").strip():
        raise ValidationError(
            "Write this line's note in English too: English readers see that one."
        )


class ContactRow(Form):
    label = _short("Who answers", 120, description="For example “Homicide Section”.")
    phone = _short("Number", 40)
    note = _short("Note", 300, description="For example “Ask for Det. Smith”, or the hours.")
    # Shown with the other translations, further down the form.
    note_es = _short("Note in Spanish", 300)
    note_vi = _short("Note in Vietnamese", 300)

    def validate_label(self, field: StringField) -> None:
        if not _row_is_blank(self) and not (field.data or "").strip():
            raise ValidationError("Say who answers this number.")

    def validate_phone(self, field: StringField) -> None:
        if _row_is_blank(self):
            return
        try:
            format_phone(field.data or "")
        except PhoneInvalid as invalid:
            raise ValidationError(str(invalid)) from None

    def validate_note_es(self, field: StringField) -> None:
        _needs_english_note(self.note.data, field)

    def validate_note_vi(self, field: StringField) -> None:
        _needs_english_note(self.note.data, field)


class DefaultNoteRow(Form):
    """The translations of the note of one of the agency's lines, for this notice (they start
    as the agency's own)."""

    line_id = HiddenField()
    note_es = _short("Note in Spanish", 300)
    note_vi = _short("Note in Vietnamese", 300)


def _note_translations(row: ContactRow | DefaultNoteRow) -> dict[str, str]:
    texts = {
        language: (row[f"note_{language}"].data or "").strip() for language in TRANSLATION_LANGUAGES
    }
    return {language: text for language, text in texts.items() if text}


class NoticeForm(FlaskForm):
    subject_name = StringField(
        "Name of the person wanted",
        validators=[
            DataRequired(message="Enter the name of the person who is wanted."),
            Length(max=200, message="Please keep the name under 200 characters."),
        ],
    )
    aliases = _long("Also known as", 2000, description="One name per line.")
    sex = _short("Sex", 40)
    race = _short("Race", 80)
    age = PlainIntegerField(
        "Age",
        parse_message="Enter the age as a whole number of years, for example 34.",
        validators=[
            Optional(),
            NumberRange(1, 129, message="Enter the age as a number of years from 1 to 129."),
        ],
    )
    date_of_birth = PlainDateField("Date of birth", validators=[Optional()])
    height = _short("Height", 40, description="For example 5 ft 7 in.")
    weight = _short("Weight", 40, description="For example 150 lb.")
    hair = _short("Hair", 80)
    eyes = _short("Eyes", 80)
    scars_marks = _long("Scars, marks and tattoos", 2000)
    last_known_area = _short("Last known area", 300, description="A neighborhood, not an address.")
    description = _long("Details", description="What the public should know about the case.")
    caution = _long(
        "Caution", 1000, description="For example “Do not approach. Call 911.”", default=""
    )
    reward_text = _long("Reward", 1000)
    max_reward = PlainIntegerField(
        "Maximum reward",
        parse_message="Enter the maximum reward as a whole amount, for example 1000.",
        description="The most the Crime Stoppers program may pay, as a whole amount. "
        "Leave it empty to state no maximum.",
        validators=[
            Optional(),
            NumberRange(1, 10_000_000, message="Enter the maximum reward as a whole amount."),
        ],
    )
    caution_es = _long("Caution in Spanish", 1000)
    caution_vi = _long("Caution in Vietnamese", 1000)
    description_es = _long("Details in Spanish")
    description_vi = _long("Details in Vietnamese")
    reward_text_es = _long("Reward in Spanish", 1000)
    reward_text_vi = _long("Reward in Vietnamese", 1000)
    case_number = _short("Case number (staff only, never shown to the public)", 60)
    unit_id = SelectField(
        "Investigating unit (staff only)",
        description="Detectives of this unit read the notice's tips; detectives of other "
        "units do not. Choose “No unit” when every detective should.",
        validate_choice=False,  # the unit list is the view's; the service checks the choice
    )
    default_lines = SelectMultipleField(
        "The agency's contact lines to show",
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        invalid_choice_message="Choose from the agency's lines shown.",
    )
    charges = FieldList(FormField(ChargeRow), max_entries=MAX_ROWS)
    contact_lines = FieldList(FormField(ContactRow), max_entries=MAX_ROWS)
    default_notes = FieldList(FormField(DefaultNoteRow), max_entries=MAX_ROWS)
    add_charge = SubmitField("Add another charge row")
    add_contact = SubmitField("Add another contact row")
    save = SubmitField("Save")

    def __init__(
        self,
        defaults: list[ContactLine],
        *args: Any,
        units: Sequence[tuple[int, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._defaults = defaults
        self.unit_id.choices = [SelectChoice("", "No unit")] + [
            SelectChoice(str(unit_id), name) for unit_id, name in units
        ]
        self.default_lines.choices = [
            SelectChoice(str(c.id), f"{c.label}: {c.phone}") for c in defaults
        ]
        if not self.default_notes.entries:
            for line in defaults:
                if line.note:
                    self.default_notes.append_entry(_default_note_data(line.id, line))
        self.pad_rows()

    @classmethod
    def for_notice(
        cls, notice: Notice, defaults: list[ContactLine], units: Sequence[tuple[int, str]] = ()
    ) -> NoticeForm:
        """The edit form filled from ``notice``, or from its pending edit when one waits for
        approval (a POST's own data wins, as WTForms does)."""
        draft = pending_draft(notice)
        by_number = {(c.label, c.phone): c.id for c in defaults}
        chosen, own = [], []
        for line in draft.contact_lines:
            default_id = by_number.get((line.label, line.phone))
            if default_id is not None and default_id not in chosen:
                chosen.append(default_id)
            else:
                own.append(
                    {
                        "label": line.label,
                        "phone": line.phone,
                        "note": line.note,
                        **{f"note_{k}": v for k, v in line.note_translations.items()},
                    }
                )
        # The notice's own translation of an agency line's note, else the agency's.
        kept = {
            by_number[(line.label, line.phone)]: line
            for line in draft.contact_lines
            if (line.label, line.phone) in by_number
        }
        data = {name: getattr(draft, name) for name in NoticeDraft.__dataclass_fields__}
        for language in TRANSLATION_LANGUAGES:
            for name in TRANSLATED_FIELDS:
                data[f"{name}_{language}"] = draft.translations.get(language, {}).get(name, "")
        data.update(
            aliases="\n".join(draft.aliases),
            default_lines=chosen,
            charges=[
                {
                    "citation": c.citation,
                    "description": c.description,
                    "severity": c.severity.value,
                    "warrant_date": c.warrant_date,
                }
                for c in draft.charges
            ],
            contact_lines=own,
            default_notes=[_default_note_data(c.id, kept.get(c.id, c)) for c in defaults if c.note],
            unit_id=str(draft.unit_id) if draft.unit_id else "",
        )
        return cls(defaults, data=data, units=units)

    def pad_rows(self) -> None:
        """Leave blank rows to type into below the filled ones."""
        for rows, blanks in (
            (self.charges, BLANK_CHARGE_ROWS),
            (self.contact_lines, BLANK_CONTACT_ROWS),
        ):
            filled = sum(not _row_is_blank(r.form) for r in rows)
            while len(rows) < min(MAX_ROWS, max(filled + blanks, len(rows))):
                rows.append_entry()
            if len(rows) == 0:
                rows.append_entry()

    def add_row(self) -> bool:
        """Handle an "add another row" button; True when one was pressed."""
        for button, rows in (
            (self.add_charge, self.charges),
            (self.add_contact, self.contact_lines),
        ):
            if button.data and len(rows) < MAX_ROWS:
                rows.append_entry()
                return True
        return bool(self.add_charge.data or self.add_contact.data)

    def error_list(self) -> Iterator[tuple[str, str]]:
        """(field id, first message) for every field in error, rows included."""
        for name, field in self._fields.items():
            if name == "csrf_token" or not field.errors:
                continue
            if isinstance(field, FieldList):
                for row in field:
                    for sub in row.form:
                        if sub.errors:
                            yield sub.id, sub.errors[0]
            else:
                yield field.id, field.errors[0]

    def note_translation_rows(self) -> Iterator[tuple[str, str, Form]]:
        """(which line, its English note, the row holding its translations) for every line
        whose note may be translated: the agency's lines with a note, then this notice's."""
        by_id = {str(c.id): c for c in self._defaults}
        for row in self.default_notes:
            line = by_id.get(row.form.line_id.data or "")
            if line is not None:
                yield f"{line.label} ({line.phone})", line.note, row.form
        for n, row in enumerate(self.contact_lines, start=1):
            label = (row.form.label.data or "").strip()
            which = f"line {n} of this notice" + (f" ({label})" if label else "")
            yield which, row.form.note.data or "", row.form

    def to_draft(self) -> NoticeDraft:
        chosen = set(self.default_lines.data or [])
        translated = {
            row.form.line_id.data: _note_translations(row.form) for row in self.default_notes
        }
        lines = [
            ContactDraft(
                c.label,
                c.phone,
                c.note,
                translated.get(str(c.id), dict(c.note_translations or {})),
            )
            for c in self._defaults
            if c.id in chosen
        ]
        lines += [
            ContactDraft(
                r.form.label.data or "",
                r.form.phone.data or "",
                r.form.note.data or "",
                _note_translations(r.form),
            )
            for r in self.contact_lines
            if not _row_is_blank(r.form)
        ]
        charges = [
            ChargeDraft(
                r.form.citation.data or "",
                r.form.description.data or "",
                Severity(r.form.severity.data),
                r.form.warrant_date.data,
            )
            for r in self.charges
            if not _row_is_blank(r.form)
        ]
        return NoticeDraft(
            subject_name=self.subject_name.data or "",
            aliases=(self.aliases.data or "").splitlines(),
            sex=self.sex.data or "",
            race=self.race.data or "",
            age=self.age.data,
            date_of_birth=self.date_of_birth.data,
            height=self.height.data or "",
            weight=self.weight.data or "",
            hair=self.hair.data or "",
            eyes=self.eyes.data or "",
            scars_marks=self.scars_marks.data or "",
            last_known_area=self.last_known_area.data or "",
            description=self.description.data or "",
            caution=self.caution.data or "",
            reward_text=self.reward_text.data or "",
            max_reward=self.max_reward.data,
            case_number=self.case_number.data or "",
            unit_id=int(self.unit_id.data) if (self.unit_id.data or "").isdigit() else None,
            charges=charges,
            contact_lines=lines,
            translations=self._translations(),
        )

    def _translations(self) -> dict[str, dict[str, str]]:
        given: dict[str, dict[str, str]] = {}
        for language in TRANSLATION_LANGUAGES:
            for name in TRANSLATED_FIELDS:
                text = (getattr(self, f"{name}_{language}").data or "").strip()
                if text:
                    given.setdefault(language, {})[name] = text
        return given


def _default_note_data(line_id: int, line: ContactLine | ContactDraft) -> dict[str, Any]:
    texts = line.note_translations or {}
    return {
        "line_id": str(line_id),
        **{f"note_{language}": texts.get(language, "") for language in TRANSLATION_LANGUAGES},
    }


class ReturnForm(FlaskForm):
    reason = TextAreaField(
        "Why does it go back?",
        validators=[
            DataRequired(message="Say why the notice goes back, so the author knows what to fix."),
            Length(max=2000, message="Please keep this under 2,000 characters."),
        ],
    )


class ResolveForm(FlaskForm):
    """What happened, with no outcome or date chosen in advance: resolving tells the public
    someone is no longer sought, so the person says what and when, then confirms."""

    resolution = SelectField(
        "What happened",
        # The empty first choice: nothing is chosen until the PIO chooses (valid HTML for a
        # required select, and no accidental "arrested").
        choices=[
            SelectChoice("", "Choose…"),
            *(SelectChoice(r.value, r.label) for r in Resolution),
        ],
        validators=[DataRequired(message="Choose what happened.")],
    )
    resolved_on = PlainDateField(
        "On",
        description="The day it happened, for example 2026-12-01.",
        validators=[DataRequired(message="Enter the date it happened.")],
    )
    confirmed = HiddenField()


class CorrectForm(FlaskForm):
    reason = TextAreaField(
        "What was wrong with the resolution",
        description="For the record: the public page says only that it was made in error.",
        validators=[
            DataRequired(message="Say what was wrong with the resolution."),
            Length(max=500, message="Please keep this under 500 characters."),
        ],
    )


class PhotoForm(FlaskForm):
    photo = FileField(
        "Photo",
        description="A JPEG, PNG or WebP image. Location and camera data are removed.",
        validators=[FileRequired(message="Choose a photo to upload.")],
    )
    alt_text = StringField(
        "Describe the photo for people who cannot see it",
        description="For example “Head-and-shoulders photo of Alexis Jane Doe”.",
        validators=[
            DataRequired(message="Describe the photo in a few words."),
            Length(max=300, message="Please keep this under 300 characters."),
        ],
    )
    caption = _short("Caption", 300, description="Optional, e.g. “Photo from 2024”.")
