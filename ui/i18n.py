"""Languages of the UI: gettext catalogs (read from the .po files), locale choice, formatting.

The .po files are the source; they are compiled in memory at start-up so there is no build
step and no stale .mo file. Python code marks strings with `N_` (extracted, translated later).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGUAGES = ("en", "fr", "es", "sw")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("ui_language", default=DEFAULT_LANGUAGE)
# Dates and times follow the language, but plain "en" would be US style (month first, AM/PM),
# which no clinic we serve uses: English pages write "22 Nov 2026, 15:41".
_FORMAT_LOCALES = {"en": "en_GB"}


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def po_path(language: str) -> Path:
    """The .po catalog of `language`."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The compiled catalog of `language` (empty for an unknown language)."""
    path = po_path(language)
    if language not in LANGUAGES or not path.exists():
        return Translations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def best_language(accept_language: str | None) -> str:
    """The first supported language of an Accept-Language header (by q), else English."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, tag.strip().lower().split("-")[0]))
    for neg_quality, _, language in sorted(weighted):
        if neg_quality < 0 and language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Translate and format in `language` inside the block."""
    token = _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def current_language() -> str:
    """The language of the request being served."""
    return _current.get()


def gettext(message: str) -> str:
    """`message` translated into the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, translated."""
    return translations(_current.get()).ngettext(singular, plural, n)


def language_name(language: str) -> str:
    """The language's own name for itself ("Français", "Kiswahili")."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def _local(at_ms: int, tz: timezone | None) -> datetime:
    # The clinic's wall clock is the device's local time zone unless a test pins one.
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.astimezone(tz)


def _format_locale() -> str:
    language = _current.get()
    return _FORMAT_LOCALES.get(language, language)


def fmt_date(value: date | str) -> str:
    """A date in the current locale's medium format."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(day, format="medium", locale=_format_locale())


def fmt_datetime(at_ms: int, tz: timezone | None = None) -> str:
    """Epoch milliseconds as a short local date and time."""
    return format_datetime(_local(at_ms, tz), format="short", locale=_format_locale())


def fmt_day_of(at_ms: int, tz: timezone | None = None) -> str:
    """The local date of an instant, in the locale's medium format."""
    return format_date(_local(at_ms, tz).date(), format="medium", locale=_format_locale())


def fmt_time(at_ms: int, tz: timezone | None = None) -> str:
    """Epoch milliseconds as a short local time of day."""
    return format_time(_local(at_ms, tz), format="short", locale=_format_locale())


def fmt_number(value: float | int, digits: int = 1) -> str:
    """A number with the locale's separators and at most `digits` decimals."""
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_format_locale())


def fmt_ago(seconds: float) -> str:
    """A duration in plain words, e.g. "3 hours ago" / "il y a 3 heures"."""
    if abs(seconds) < 1:  # babel says "in 0 seconds"
        return gettext("just now")
    return format_timedelta(
        timedelta(seconds=-abs(seconds)), add_direction=True, locale=_format_locale()
    )


def fmt_duration(seconds: float) -> str:
    """A duration without direction, e.g. "25 minutes"."""
    return format_timedelta(timedelta(seconds=abs(seconds)), locale=_format_locale())
