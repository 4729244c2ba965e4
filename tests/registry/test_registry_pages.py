"""The HTML pages: login, CSRF on every form, visit entry with defaults, roles, no PHI in logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from registry_testkit import PASSWORD, People, make_client, visit_payload

from ldn_derm.registry import migrate
from ldn_derm.registry.db import make_engine
from ldn_derm.registry.service import Registry
from ldn_derm.registry.views import CourseView, PatientView
from ldn_derm.web.app import create_app
from ldn_derm.web.settings import load_settings

ClientFactory = Callable[..., TestClient]


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def page_login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    page = client.get("/registry/login")
    r = client.post(
        "/registry/login",
        data={
            "username": username,
            "password": password,
            "login_token": hidden(page.text, "login_token"),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


@pytest.fixture()
def browser(client_factory: ClientFactory, people: People) -> TestClient:
    return client_factory()


def test_pages_redirect_anonymous_users_to_the_login(
    browser: TestClient, course: CourseView
) -> None:
    for path in ("/registry/patients", f"/registry/courses/{course.id}", "/registry/dashboard"):
        r = browser.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == f"/registry/login?next={path}"
    assert (
        browser.get("/registry/", follow_redirects=False).headers["location"] == "/registry/login"
    )


def test_login_form_needs_its_token_and_lands_by_role(
    browser: TestClient, client_factory: ClientFactory
) -> None:
    r = browser.post("/registry/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403 and "expired" in r.text
    wrong = browser.get("/registry/login")
    r = browser.post(
        "/registry/login",
        data={
            "username": "alice",
            "password": "nope",
            "login_token": hidden(wrong.text, "login_token"),
        },
    )
    assert r.status_code == 401 and "user name or password is wrong" in r.text
    assert page_login(browser, "alice") == "/registry/patients"
    assert browser.get("/registry/login", follow_redirects=False).status_code == 303  # logged in
    assert page_login(client_factory(), "rhea") == "/registry/dashboard"
    assert page_login(client_factory(), "adam") == "/registry/users"


def test_login_page_warns_when_secure_cookies_meet_plain_http(db_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=db_url, data_dir=tmp_path, dev=False, secret_key="k")
    plain = TestClient(create_app(settings), base_url="http://testserver")
    assert "served over plain HTTP" in plain.get("/registry/login").text
    tls = TestClient(create_app(settings), base_url="https://testserver")
    assert "served over plain HTTP" not in tls.get("/registry/login").text


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(
    client_factory: ClientFactory, people: People, course: CourseView
) -> None:
    for target, expected in (
        (f"/registry/courses/{course.id}", f"/registry/courses/{course.id}"),
        ("https://evil.example/", "/registry/patients"),
        ("/registry//evil.example", "/registry/patients"),
    ):
        browser = client_factory()
        page = browser.get(f"/registry/login?next={target}")
        r = browser.post(
            "/registry/login",
            follow_redirects=False,
            data={
                "username": "alice",
                "password": PASSWORD,
                "next": hidden(page.text, "next") or target,
                "login_token": hidden(page.text, "login_token"),
            },
        )
        assert r.headers["location"] == expected


def test_every_form_post_needs_the_csrf_token(
    browser: TestClient, patient: PatientView, course: CourseView
) -> None:
    page_login(browser, "alice")
    posts = {
        "/registry/patients": {"given_name": "A", "family_name": "B", "birth_date": "1990-01-01"},
        f"/registry/patients/{patient.pseudonym}/courses": {"condition_id": "psoriasis"},
        f"/registry/courses/{course.id}/visits": {
            "visit_date": "2025-01-02",
            "dose_mg": "1.5",
            "dose_time": "bedtime",
        },
        f"/registry/courses/{course.id}/stop": {
            "version": "1",
            "stop_date": "2025-02-01",
            "stop_reason": "other",
        },
        "/registry/logout": {},
        "/registry/users": {"username": "x", "password": "12345678", "role": "admin"},
    }
    for path, data in posts.items():
        for token in (None, "forged-token"):
            body = dict(data) | ({"csrf_token": token} if token else {})
            r = browser.post(path, data=body, follow_redirects=False)
            assert r.status_code == 403, (path, token, r.status_code)
    assert browser.get("/registry/patients").status_code == 200  # still logged in


def test_visit_entry_defaults_from_the_last_visit_and_reports_errors_in_place(
    browser: TestClient, clinic: Registry, course: CourseView
) -> None:
    clinic.add_visit(
        course.id, visit_payload(0, dose_mg=3, dose_time="morning", pasi=9.5, adherence="most")
    )
    page_login(browser, "alice")
    html = browser.get(f"/registry/courses/{course.id}").text
    assert 'id="f-dose_mg" name="dose_mg" type="number"' in html and 'value="3"' in html
    assert re.search(r'value="morning" checked', html)
    assert re.search(r'<option value="most" selected>', html)
    assert "last: 9.5" in html  # the PASI hint
    assert 'id="trajectory-plot"' in html and "response threshold" not in html
    csrf, token = hidden(html, "csrf_token"), hidden(html, "client_token")
    form = {
        "csrf_token": csrf,
        "client_token": token,
        "visit_date": "2025-02-01",
        "dose_mg": "4.5",
        "dose_time": "morning",
        "pasi": "80",
        "notes": "kept text",
    }
    bad = browser.post(f"/registry/courses/{course.id}/visits", data=form)
    assert bad.status_code == 422
    assert "PASI: must be between 0 and 72 (got 80)" in bad.text
    assert 'aria-invalid="true"' in bad.text and "kept text" in bad.text  # input kept
    form |= {
        "pasi": "4.1",
        "se_vivid-dreams": "moderate",
        "se_other": "mild",
        "se_other_detail": "dry mouth",
    }
    ok = browser.post(f"/registry/courses/{course.id}/visits", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("?saved=visit#visits")
    again = browser.post(f"/registry/courses/{course.id}/visits", data=form, follow_redirects=False)
    assert again.status_code == 303  # a double submit is harmless ...
    visits = clinic.get_course(course.id).visits
    assert len(visits) == 2  # ... and stored once
    # the same form reused (Back) for the next visit: said, kept on the page, not lost
    reused = browser.post(
        f"/registry/courses/{course.id}/visits",
        data={**form, "visit_date": "2025-03-01", "notes": "next visit"},
    )
    assert reused.status_code == 409
    assert "was not saved" in reused.text and "next visit" in reused.text
    assert len(clinic.get_course(course.id).visits) == 2
    fresh = hidden(reused.text, "client_token")
    assert fresh != token
    saved = browser.post(
        f"/registry/courses/{course.id}/visits",
        data={**form, "visit_date": "2025-03-01", "notes": "next visit", "client_token": fresh,
              "csrf_token": hidden(reused.text, "csrf_token")},
        follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303
    assert len(clinic.get_course(course.id).visits) == 3
    assert {(e.effect, e.severity) for e in visits[1].side_effects} == {
        ("vivid-dreams", "moderate"),
        ("other", "mild"),
    }
    html = browser.get(f"/registry/courses/{course.id}?saved=visit").text
    assert "Visit saved." in html and "dry mouth" in html and 'value="4.5"' in html


def test_register_patient_start_course_and_stop_it(browser: TestClient) -> None:
    page_login(browser, "alice")
    csrf = hidden(browser.get("/registry/patients").text, "csrf_token")
    r = browser.post(
        "/registry/patients",
        data={
            "csrf_token": csrf,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "birth_date": "2999-01-01",
        },
    )
    assert r.status_code == 422 and "in the future" in r.text
    r = browser.post(
        "/registry/patients",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "birth_date": "1985-12-10",
            "sex": "female",
        },
    )
    patient_url = r.headers["location"].split("?")[0]
    r = browser.post(
        f"{patient_url}/courses",
        data={
            "csrf_token": csrf,
            "condition_id": "no-such",
            "start_date": "2025-01-01",
            "start_dose_mg": "1.5",
            "target_dose_mg": "4.5",
        },
    )
    assert r.status_code == 422 and "unknown condition" in r.text
    r = browser.post(
        f"{patient_url}/courses",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "condition_id": "psoriasis",
            "start_date": "2025-01-01",
            "start_dose_mg": "1.5",
            "target_dose_mg": "4.5",
            "time_of_day": "bedtime",
        },
    )
    course_url = r.headers["location"].split("?")[0]
    html = browser.get(course_url).text
    assert "Lovelace" not in html or "Psoriasis" in html
    r = browser.post(
        f"{course_url}/stop",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "version": hidden(html, "version"),
            "stop_date": "2025-02-01",
            "stop_reason": "patient-choice",
        },
    )
    assert r.status_code == 303
    assert "stopped 2025-02-01" in browser.get(course_url).text
    stale = browser.post(
        f"{course_url}/stop",
        data={
            "csrf_token": csrf,
            "version": "1",
            "stop_date": "2025-02-02",
            "stop_reason": "other",
        },
    )
    assert stale.status_code == 409 and "changed by someone else" in stale.text


def test_researcher_pages_show_no_names_and_no_forms(
    browser: TestClient, clinic: Registry, patient: PatientView, course: CourseView
) -> None:
    clinic.add_visit(course.id, visit_payload(0, pasi=10, notes="Zelda's note"))
    clinic.add_visit(course.id, visit_payload(30, pasi=4))
    page_login(browser, "rhea")
    for path in (
        "/registry/patients",
        f"/registry/patients/{patient.pseudonym}",
        f"/registry/courses/{course.id}",
        "/registry/dashboard",
    ):
        html = browser.get(path).text
        assert "Quixote" not in html and "Zelda" not in html and "1970-02-03" not in html
        assert (
            'name="csrf_token"'
            not in html.replace('action="/registry/logout"', "").split("</header>")[1]
        )  # no data-entry forms
    dash = browser.get("/registry/dashboard").text
    assert "operational definition" in dash and "Wilson" in dash
    assert "PASI 50" in dash and "Kaplan" in dash
    assert browser.get("/registry/dashboard/response.png").content.startswith(b"\x89PNG")
    csv = browser.get("/registry/cohort.csv").text
    assert csv.startswith("patient,clinic,course,condition") and "Zelda" not in csv


def test_admin_pages(browser: TestClient) -> None:
    page_login(browser, "adam")
    html = browser.get("/registry/users").text
    assert "alice" in html
    r = browser.post(
        "/registry/users",
        follow_redirects=False,
        data={
            "csrf_token": hidden(html, "csrf_token"),
            "username": "dana",
            "password": "long password",
            "role": "researcher",
        },
    )
    assert r.status_code == 303
    assert "dana" in browser.get("/registry/users").text
    assert "user.create" in browser.get("/registry/audit").text
    assert browser.get("/registry/patients").status_code == 403


def test_no_patient_data_reaches_the_application_logs(
    browser: TestClient, clinic: Registry, course: CourseView, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page_login(browser, "alice")
    html = browser.get(f"/registry/courses/{course.id}").text
    browser.post(
        f"/registry/courses/{course.id}/visits",
        data={
            "csrf_token": hidden(html, "csrf_token"),
            "visit_date": "2025-01-10",
            "dose_mg": "99999",
            "dose_time": "bedtime",
            "notes": "Zelda Quixote private note",
        },
    )
    browser.get("/registry/patients")
    browser.get(f"/api/v1/registry/courses/{course.id}/fhir")
    logged = caplog.text
    assert "Quixote" not in logged and "Zelda" not in logged and "1970-02-03" not in logged


def test_the_web_app_creates_a_fresh_registry_but_never_migrates_an_old_one(
    tmp_path: Path,
) -> None:
    fresh = make_client(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path)
    r = fresh.post("/api/v1/registry/session", json={"username": "a", "password": "b"})
    assert r.status_code == 401  # the schema was built on first use; the account is unknown

    old_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(old_url)
    engine = make_engine(old_url)
    with engine.begin() as conn:  # pretend the database was made by an older release
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    engine.dispose()
    old = make_client(old_url, tmp_path)
    r = old.post("/api/v1/registry/session", json={"username": "a", "password": "b"})
    assert r.status_code == 503 and "ldn db upgrade" in r.json()["message"]
    page = old.get("/registry/login")
    r = old.post(
        "/registry/login",
        data={"username": "a", "password": "b", "login_token": hidden(page.text, "login_token")},
    )
    assert r.status_code == 503 and "ldn db upgrade" in r.text


def test_a_page_address_with_a_malformed_id_is_a_404_page(
    browser: TestClient, people: People
) -> None:
    page_login(browser, "alice")
    answer = browser.get("/registry/courses/abc", headers={"accept": "text/html"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "There is no page at /registry/courses/abc" in answer.text
    api = browser.get("/api/v1/registry/courses/abc")
    assert api.status_code == 422 and api.headers["content-type"].startswith("application/problem")
