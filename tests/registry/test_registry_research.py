"""A researcher receives only the allow-listed fields (registry/research.py): no names, no free
text, no calendar dates — on every route a researcher can reach (API, pages, FHIR, CSV).

The seed data puts a patient's name and a phone number in every free-text field the registry
has (course notes, the regimen's formulation, source and note, visit notes, side-effect
details, the stop detail) and the test walks every GET route of the registry, as the app
declares them, so a route added later is checked too."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from registry_testkit import PASSWORD, People, visit_payload

from ldn_derm.registry import research
from ldn_derm.registry.export import COLUMNS
from ldn_derm.registry.service import Registry
from ldn_derm.registry.views import CourseView, PatientView
from ldn_derm.registry.vocab import Measure

API = "/api/v1/registry"
PAGES = "/registry"
NAME, PHONE = "Quixote", "07700 900123"
SECRET_TEXT = f"Call Zelda {NAME} on {PHONE}"
SECRETS = ("Zelda", NAME, "07700", "900123", "1970-02-03")
# ISO dates (2025-01-31), and day/month/year forms in case a template formats one differently
DATE_LIKE = re.compile(r"\b(19|20)\d{2}-\d{2}-\d{2}\b|\b\d{1,2}[/.]\d{1,2}[/.](19|20)\d{2}\b")
# Routes a researcher is refused (403) or that hold no patient data: checked, but not required
# to answer 200.
NOT_FOR_RESEARCHERS = {"/users", "/audit", "/login", "/logout"}


@pytest.fixture()
def seeded(clinic: Registry, patient: PatientView) -> tuple[PatientView, CourseView]:
    course = clinic.create_course(
        patient.pseudonym,
        {
            "condition_id": "psoriasis",
            "start_date": "2025-01-01",
            "notes": SECRET_TEXT,
            "regimen": {
                "start_dose_mg": 1.5,
                "target_dose_mg": 4.5,
                "steps": [{"day": 0, "dose_mg": 1.5}, {"day": 14, "dose_mg": 3}],
                "formulation": f"capsules for {NAME}, ring {PHONE}",
                "source": f"{NAME} {PHONE}",
                "note": SECRET_TEXT,
            },
        },
    )
    clinic.add_visit(course.id, visit_payload(0, pasi=10, notes=SECRET_TEXT))
    clinic.add_visit(
        course.id,
        visit_payload(
            40,
            pasi=4,
            notes=SECRET_TEXT,
            side_effects=[{"effect": "other", "severity": "mild", "detail": SECRET_TEXT}],
        ),
    )
    stopped = clinic.update_course(
        course.id,
        {
            "version": clinic.get_course(course.id).version,
            "stop_date": "2025-03-01",
            "stop_reason": "other",
            "stop_detail": SECRET_TEXT,
        },
    )
    return patient, stopped


def _login(client: TestClient, username: str) -> None:
    r = client.post(f"{API}/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]


def _get_routes() -> Iterator[str]:
    """Every GET route of the registry's two routers, with the prefix it is mounted under."""
    from ldn_derm.web.registry.api import router as api_router
    from ldn_derm.web.registry.pages import router as page_router

    for prefix, router in ((API, api_router), (PAGES, page_router)):
        for route in router.routes:
            if isinstance(route, APIRoute) and "GET" in route.methods:
                yield prefix + route.path


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _check_text(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where}: {secret!r} reached a researcher"
    match = DATE_LIKE.search(text)
    assert match is None, f"{where}: a calendar date {match.group(0) if match else ''!r}"


def _check_keys(where: str, record: Any, allowed: frozenset[str]) -> None:
    """Every key of a patient/course record, at any depth, is on the allow-list (the measures'
    names are keys of `measures`)."""
    measure_keys = {m.value for m in Measure}
    if isinstance(record, dict):
        for key, value in record.items():
            assert key in allowed | measure_keys, f"{where}: key {key!r} is not allow-listed"
            _check_keys(f"{where}.{key}", value, allowed)
    elif isinstance(record, list):
        for item in record:
            _check_keys(where, item, allowed)


def test_no_free_text_or_calendar_date_reaches_a_researcher(
    client_factory: Callable[..., TestClient],
    people: People,
    seeded: tuple[PatientView, CourseView],
) -> None:
    patient, course = seeded
    client = client_factory()
    _login(client, "rhea")
    checked: dict[str, int] = {}
    for template in _get_routes():
        path = template.replace("{pseudonym}", patient.pseudonym).replace(
            "{course_id}", str(course.id)
        )
        assert "{" not in path, f"no test value for a parameter of {template}"
        r = client.get(path, follow_redirects=False)
        checked[template] = r.status_code
        if r.headers.get("content-type", "").startswith("image/"):
            continue  # plots: built from the same pseudonymised course (see below)
        _check_text(path, r.text)
        if r.status_code != 200 and template.removeprefix(API).removeprefix(PAGES) not in (
            NOT_FOR_RESEARCHERS
        ):
            assert r.status_code in (303, 307), f"{path}: {r.status_code}"
        kind = r.headers.get("content-type", "")
        if kind.startswith("application/json") and r.status_code == 200:
            body = r.json()
            if template in (f"{API}/patients",):
                _check_keys(path, body["patients"], research.ALL_JSON_FIELDS)
            elif template.startswith((f"{API}/patients/", f"{API}/courses/")):
                _check_keys(path, body, research.ALL_JSON_FIELDS)
        if "csv" in kind:
            rows = list(csv.reader(io.StringIO(r.text)))
            assert set(rows[0]) <= research.CSV_COLUMNS, path
            assert len(rows) == 3  # the header and the two visits
    must = {
        f"{API}/patients",
        f"{API}/patients/{{pseudonym}}",
        f"{API}/courses/{{course_id}}",
        f"{API}/courses/{{course_id}}/fhir",
        f"{API}/cohort",
        f"{API}/cohort.csv",
        f"{PAGES}/patients",
        f"{PAGES}/patients/{{pseudonym}}",
        f"{PAGES}/courses/{{course_id}}",
        f"{PAGES}/courses/{{course_id}}/fhir.json",
        f"{PAGES}/cohort.csv",
        f"{PAGES}/dashboard",
    }
    assert {t for t, status in checked.items() if status == 200} >= must, checked

    # what the researcher does see: days since the start and the doses
    data = client.get(f"{API}/courses/{course.id}").json()
    assert [v["day"] for v in data["visits"]] == [0, 40]
    assert data["stop_day"] == 59 and data["stop_reason"] == "other"
    assert data["regimen"] == {
        "start_dose_mg": 1.5,
        "target_dose_mg": 4.5,
        "time_of_day": "bedtime",
        "steps": [
            {"day": 0, "dose_mg": 1.5, "time_of_day": "bedtime"},
            {"day": 14, "dose_mg": 3.0, "time_of_day": "bedtime"},
        ],
    }
    assert data["age_band"] == "50-59" and data["sex"] == "female"
    fhir = client.get(f"{API}/courses/{course.id}/fhir").json()
    days = [
        ext["valueInteger"]
        for entry in fhir["entry"]
        for ext in entry["resource"].get("extension", [])
        if "valueInteger" in ext
    ]
    assert 0 in days and 40 in days


def test_the_clinician_still_sees_dates_and_notes(
    client_factory: Callable[..., TestClient],
    people: People,
    seeded: tuple[PatientView, CourseView],
) -> None:
    _, course = seeded
    client = client_factory()
    _login(client, "alice")
    data = client.get(f"{API}/courses/{course.id}").json()
    assert data["start_date"] == "2025-01-01" and data["notes"] == SECRET_TEXT
    assert data["regimen"]["note"] == SECRET_TEXT
    assert [v["visit_date"] for v in data["visits"]] == ["2025-01-01", "2025-02-10"]
    assert "pseudonymised" not in data
    page = client.get(f"{PAGES}/courses/{course.id}").text
    assert "2025-02-10" in page and NAME in page


def test_the_pseudonymised_plot_has_no_start_date(
    clinic: Registry, people: People, seeded: tuple[PatientView, CourseView]
) -> None:
    from ldn_derm.registry.analytics.plots import trajectory_png

    _, course = seeded
    research_view = Registry(clinic.db, people.researcher.actor()).get_course(course.id)
    assert research_view.start_date is None and research_view.pseudonymised
    assert trajectory_png(research_view).startswith(b"\x89PNG")


def test_the_csv_columns_are_on_the_allow_list() -> None:
    assert set(COLUMNS) <= research.CSV_COLUMNS


@given(
    st.dictionaries(
        st.text(max_size=12),
        st.one_of(
            st.text(max_size=20),
            st.floats(allow_nan=False),
            st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=8)), max_size=3),
        ),
        max_size=8,
    )
)
def test_the_regimen_projection_keeps_only_allow_listed_keys(summary: dict[str, Any]) -> None:
    out = research.regimen(summary)
    assert set(out) <= research.REGIMEN_FIELDS
    for step in out.get("steps", []) if isinstance(out.get("steps"), list) else []:
        assert set(step) <= research.REGIMEN_STEP_FIELDS
