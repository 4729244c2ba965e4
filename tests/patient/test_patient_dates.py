from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.errors import PatientDataError
from ldn_derm.patient.dates import age_on, parse_fhir_date, parse_user_date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("2024-05-17", date(2024, 5, 17), date(2024, 5, 17)),
        ("2024-05-17T22:39:41+00:00", date(2024, 5, 17), date(2024, 5, 17)),
        ("2024-05-17T22:39:41.123Z", date(2024, 5, 17), date(2024, 5, 17)),
    ],
)
def test_fhir_dates_partial_and_full(text: str, start: date, end: date) -> None:
    assert parse_fhir_date(text, "x") == start
    assert parse_fhir_date(text, "x", end=True) == end


@pytest.mark.parametrize(
    "value", ["2024-13-01", "2024-02-30", "24-01-01", "2024/01/01", "yesterday", "", 20240101, None]
)
def test_bad_fhir_dates_name_the_field(value: object) -> None:
    with pytest.raises(PatientDataError, match="Condition/1 onsetDateTime"):
        parse_fhir_date(value, "Condition/1 onsetDateTime")


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_the_documented_error(text: str) -> None:
    with contextlib.suppress(PatientDataError):
        parse_fhir_date(text, "x")


def test_user_dates_are_full_iso_dates() -> None:
    assert parse_user_date("2026-01-31") == date(2026, 1, 31)
    for bad in ("2026-1-31", "2026-02-30", "31/01/2026"):
        with pytest.raises(PatientDataError, match="--as-of"):
            parse_user_date(bad, "--as-of")


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(1980, 6, 15), date(2026, 6, 14), 45),
        (date(1980, 6, 15), date(2026, 6, 15), 46),
        (date(2000, 2, 29), date(2026, 2, 28), 25),
    ],
)
def test_age_in_completed_years(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


_DATE_LIKE = st.one_of(
    st.from_regex(
        r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,4})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?",
        fullmatch=True,
    ),
    st.text(max_size=30),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@given(st.lists(st.tuples(_DATE_LIKE, st.booleans()), max_size=20))
def test_cached_parsing_gives_what_parsing_gives(values: list[tuple[object, bool]]) -> None:
    """parse_fhir_date keeps the values it parsed: asked again (in any order, for either end),
    it answers exactly as the parser itself, errors included."""
    from ldn_derm.patient.dates import _parse_fhir_date

    for value, end in values * 2:
        try:
            expected: object = _parse_fhir_date(value, "x", end)
        except PatientDataError as exc:
            expected = str(exc)
        try:
            got: object = parse_fhir_date(value, "x", end=end)
        except PatientDataError as exc:
            got = str(exc)
        assert got == expected
