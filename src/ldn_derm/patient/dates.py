"""FHIR date and dateTime strings to `datetime.date`, strictly.

FHIR allows partial dates (`2024`, `2024-05`). A partial date stands for a range of days, so
callers say which end they want: the first day (for a start) or the last day (for an end),
which keeps "was this within the last 10 days?" on the cautious side.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from ldn_derm.errors import PatientDataError

# FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or a full date with time and optional zone.
_FHIR_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


# Parsed values, per end: the same timestamps recur across a record (an encounter's time on each
# of its conditions, observations and orders). Only valid values are kept; bounded.
_PARSED: tuple[dict[str, date], dict[str, date]] = ({}, {})
_PARSED_LIMIT = 65536
_CACHED_LENGTH = 64  # longer values are parsed every time: the cache's memory stays bounded


def parse_fhir_date(value: object, where: str, *, end: bool = False, field: str = "") -> date:
    """Parse a FHIR date/dateTime; `end=True` gives the last day of a partial date.

    Raises PatientDataError naming `where + field` (e.g. "MedicationRequest/12" and
    " authoredOn": two parts, joined only when there is an error) when the value is not a
    string or not a valid date.
    """
    parsed = _PARSED[end]
    try:
        return parsed[value]  # type: ignore[index]
    except (KeyError, TypeError):  # not seen yet, or not a string (unhashable)
        pass
    day = _parse_fhir_date(value, where + field, end)
    if len(value) <= _CACHED_LENGTH:  # type: ignore[arg-type]  # a str: checked above
        if len(parsed) >= _PARSED_LIMIT:
            parsed.clear()
        parsed[value] = day  # type: ignore[index]
    return day


def _parse_fhir_date(value: object, where: str, end: bool) -> date:
    if not isinstance(value, str):
        raise PatientDataError(f"{where} should be a date string, found {_kind(value)}")
    match = _FHIR_DATE.match(value.strip())
    if match is None:
        raise PatientDataError(f"{where} '{_clip(value)}' is not a valid FHIR date")
    year = int(match["y"])
    month_text, day_text = match["m"], match["d"]
    try:
        if month_text is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        month = int(month_text)
        if day_text is None:
            last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
            return date(year, month, last if end else 1)
        return date(year, month, int(day_text))
    except ValueError:
        raise PatientDataError(f"{where} '{_clip(value)}' is not a real calendar date") from None


def parse_user_date(value: str, what: str = "date") -> date:
    """A full YYYY-MM-DD date typed by a person (e.g. `--as-of`)."""
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise PatientDataError(f"{what} '{_clip(text)}' must be written YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PatientDataError(f"{what} '{_clip(text)}' is not a real calendar date") from None
    check_as_of(day, what)
    return day


AS_OF_RANGE = (date(1900, 1, 1), date(2200, 12, 31))


def check_as_of(day: date, what: str = "the as-of date") -> None:
    """Refuse as-of dates no record can sensibly be read at (and date-arithmetic overflow)."""
    low, high = AS_OF_RANGE
    if not low <= day <= high:
        raise PatientDataError(
            f"{what} {day.isoformat()} must lie between {low.year} and {high.year}"
        )


def plus_days(day: date, days: int) -> date:
    """`day + days`, saturating at the last representable date instead of overflowing."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def age_on(birth: date, day: date) -> int:
    """Completed years between `birth` and `day`."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
