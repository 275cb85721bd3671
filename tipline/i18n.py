"""Languages of the public pages: English (default), Spanish and Vietnamese (Flask-Babel).

The visitor's choice is never stored: an explicit ``?lang=es`` on the URL wins (every link and
form on a page carries it on, see ``_carry_lang``), otherwise the browser's ``Accept-Language``
is negotiated and the response says ``Vary: Accept-Language``. Staff pages are English only.

``current_locale()`` is the one place that says which language a request is served in (the
page cache keys on it).
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from babel import support
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel, Domain, format_currency, format_date, get_locale, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response
from wtforms.i18n import messages_path

DEFAULT_LOCALE = "en"
#: code -> the language's own name, as the switcher shows it.
LOCALES: dict[str, str] = {"en": "English", "es": "Español", "vi": "Tiếng Việt"}
QUERY_PARAM = "lang"
#: Endpoints under these blueprints are public pages whose links carry ``?lang=``.
_PUBLIC_BLUEPRINTS = ("public", "receipt")
#: Public endpoints whose answer does not depend on the language.
_LANGUAGE_FREE = {"public.notice_photo", "public.robots", "public.healthz", "static"}

babel = Babel()
_DOMAIN = "tipline.babel_domain"

#: Interface words that reach public templates from the models (labels, statuses). Marked here
#: so ``pybabel extract`` finds them; templates translate them with the ``t`` filter.
MODEL_WORDS = (
    _l("Sex"),
    _l("Race"),
    _l("Age"),
    _l("Date of birth"),
    _l("Height"),
    _l("Weight"),
    _l("Hair"),
    _l("Eyes"),
    _l("Scars and marks"),
    _l("Received"),
    _l("Being worked"),
    _l("Closed"),
    _l("Arrested"),
    _l("Surrendered"),
    _l("Located"),
    _l("Warrant cleared"),
    _l("Notice withdrawn"),
    _l("felony"),
    _l("misdemeanor"),
)


#: Paths served in English only: staff pages and the JSON API (for programs).
_ENGLISH_ONLY = ("/staff", "/api/")


def _english_only() -> bool:
    return request.path.startswith(_ENGLISH_ONLY)


def explicit_locale() -> str | None:
    """The language named on the URL (``?lang=``), if it is one we have."""
    if not has_request_context() or _english_only():
        return None
    chosen = request.args.get(QUERY_PARAM, "").strip().lower()
    return chosen if chosen in LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """The language for an ``Accept-Language`` header. Also used by the page cache's fast path,
    which runs before Flask, so the two can never disagree about a request's language."""
    accepted = parse_accept_header(accept_language, LanguageAccept)
    return accepted.best_match(list(LOCALES), DEFAULT_LOCALE)


def current_locale() -> str:
    """The language this request is served in: "en", "es" or "vi"."""
    if not has_request_context() or _english_only():
        return DEFAULT_LOCALE
    cached = g.get("_tipline_locale")
    if cached is not None:
        return cached
    chosen = explicit_locale()
    if chosen is None:
        g._tipline_negotiated = True
        chosen = negotiate(request.headers.get("Accept-Language"))
    g._tipline_locale = chosen
    return chosen


def translate(word: Any) -> str:
    """A model's interface word (see ``MODEL_WORDS``) in the current language."""
    return gettext(str(word))


def resolution_text(notice: Any) -> str:
    """The public banner, e.g. "Arrested on December 1, 2026", in the current language."""
    if notice.resolution is None:
        return ""
    what = translate(notice.resolution.label)
    if notice.resolved_on is None:
        return what
    return gettext("%(what)s on %(date)s", what=what, date=local_date(notice.resolved_on))


def notice_text(notice: Any, name: str) -> tuple[str, str | None]:
    """A notice's free text in the reader's language when the PIO translated it, else in
    English with ``"en"`` to mark it (WCAG 3.1.2, language of parts)."""
    return notice.text_in(name, current_locale())


def local_date(value: date | datetime) -> str:
    """A date written out in the current language: "November 29, 2026", "29 de noviembre de
    2026", "29 tháng 11, 2026"."""
    return format_date(value, format="long")


def money(amount: int, currency: str) -> str:
    """A whole amount in the current language's notation: "$1,000", "1.000 US$"."""
    # The locale's own currency pattern without its decimals: rewards are whole amounts.
    pattern = get_locale().currency_formats["standard"].pattern.replace(".00", "")
    return format_currency(amount, currency, format=pattern, currency_digits=False)


def switch_url(code: str) -> str:
    """This page in another language: the same path and query, with ``lang=code``."""
    args = request.args.to_dict(flat=False)
    args[QUERY_PARAM] = [code]
    return request.path + "?" + urlencode(args, doseq=True)


def _carry_lang(endpoint: str, values: dict[str, Any]) -> None:
    """Links built on a page opened with ``?lang=`` keep it (public pages only)."""
    if endpoint in _LANGUAGE_FREE or endpoint.split(".")[0] not in _PUBLIC_BLUEPRINTS:
        return
    chosen = explicit_locale()
    if chosen is not None:
        values.setdefault(QUERY_PARAM, chosen)


def _vary(response: Response) -> Response:
    if g.get("_tipline_negotiated"):
        response.vary.add("Accept-Language")
    return response


def _template_globals() -> dict[str, Any]:
    return {
        "current_locale": current_locale,
        "locales": LOCALES,
        "switch_url": switch_url,
        "resolution_text": resolution_text,
        "local_date": local_date,
        "notice_text": notice_text,
    }


@functools.cache
def _wtforms_catalog(locale: str) -> support.Translations | support.NullTranslations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def _use_parsed_catalogs() -> None:
    """Give the request catalogs parsed once per process, not once per request.

    Flask-Babel 4 makes a new Domain, with an empty cache, for every request
    (``Babel.domain_instance`` is a property), and Flask-WTF loads WTForms' own messages into
    ``request.wtforms_translations`` when it finds none there: each request would read and parse
    two .mo files. One Domain per app, and WTForms' catalog per language, are kept instead.
    """
    current_app.extensions[_DOMAIN].as_default()
    request.wtforms_translations = _wtforms_catalog(str(get_locale()))  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=current_locale)
    app.extensions[_DOMAIN] = Domain()
    app.before_request(_use_parsed_catalogs)
    app.url_defaults(_carry_lang)
    app.after_request(_vary)
    app.context_processor(_template_globals)
    app.add_template_filter(translate, "t")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(money, "money")
