"""Security review regressions for the registry: problem-details errors, session fixation,
server-side logout, hidden SQL parameters, audited reads (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from registry_testkit import PASSWORD, People
from sqlalchemy.exc import IntegrityError

from ldn_derm.registry import audit
from ldn_derm.registry.db import Database
from ldn_derm.registry.models import User
from ldn_derm.registry.views import CourseView, PatientView
from ldn_derm.web.registry.security import SESSION_COOKIE

API = "/api/v1/registry"
ClientFactory = Callable[..., TestClient]


def _login(client: TestClient, username: str) -> str:
    r = client.post(f"{API}/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return str(r.cookies[SESSION_COOKIE])  # the cookie this login set


@pytest.fixture()
def client(client_factory: ClientFactory, people: People) -> TestClient:
    return client_factory()


def test_api_errors_are_problem_details(
    client_factory: ClientFactory, people: People, course: CourseView, patient: PatientView
) -> None:
    anonymous = client_factory()
    bob = client_factory()
    _login(bob, "bob")
    no_csrf = client_factory()
    _login(no_csrf, "alice")
    no_csrf.headers.pop("X-CSRF-Token")
    alice = client_factory()
    _login(alice, "alice")
    cases = [
        (anonymous.get(f"{API}/patients"), 401),
        (no_csrf.post(f"{API}/courses/{course.id}/visits", json={}), 403),
        (bob.get(f"{API}/patients/{patient.pseudonym}"), 404),  # another clinic's patient
        (alice.post(f"{API}/courses/{course.id}/visits", json={"dose_mg": 900}), 422),
    ]
    for r, status in cases:
        assert r.status_code == status
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == status and body["type"].startswith("/problems#")
        assert body["title"] and body["detail"] == body["message"] and body["error"]
        assert "Traceback" not in r.text and "site-packages" not in r.text
        assert r.headers["cache-control"] == "no-store"
    assert cases[1][0].json()["type"] == "/problems#forbidden"
    assert "Quixote" not in cases[2][0].text  # the other clinic learns no name


def test_login_issues_a_new_session_id_never_a_planted_one(
    client_factory: ClientFactory, people: People
) -> None:
    planted = "attacker-chosen-session-token-0123456789abcdef"
    victim = client_factory()
    victim.cookies.set(SESSION_COOKIE, planted)
    token = _login(victim, "alice")
    assert token != planted
    attacker = client_factory()
    attacker.cookies.set(SESSION_COOKIE, planted)
    assert attacker.get(f"{API}/session").status_code == 401
    # a second login gets yet another id
    assert _login(client_factory(), "alice") != token


def test_logout_ends_the_session_on_the_server(
    client_factory: ClientFactory, people: People
) -> None:
    api = client_factory()
    token = _login(api, "alice")
    assert api.delete(f"{API}/session").status_code == 204
    replay = client_factory()
    replay.cookies.set(SESSION_COOKIE, token)  # the old cookie, kept by a thief
    assert replay.get(f"{API}/session").status_code == 401
    assert replay.get("/registry/patients", follow_redirects=False).status_code == 303


def test_page_logout_ends_the_session_on_the_server(
    client_factory: ClientFactory, people: People
) -> None:
    browser = client_factory()
    token = _login(browser, "alice")
    page = browser.get("/registry/patients")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = browser.post("/registry/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    replay = client_factory()
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get(f"{API}/session").status_code == 401


def test_database_errors_never_carry_the_values(db: Database, people: People) -> None:
    marker = "Zelda-Quixote-1970-02-03"
    with pytest.raises(IntegrityError) as err, db.transaction() as s:
        s.add(User(username="alice", password_hash=marker, role="clinician"))
        s.flush()
    assert marker not in str(err.value)


def test_reads_of_patient_data_are_audited(
    client: TestClient, db: Database, patient: PatientView, course: CourseView
) -> None:
    _login(client, "alice")
    assert client.get(f"{API}/patients/{patient.pseudonym}").status_code == 200
    assert client.get(f"{API}/courses/{course.id}").status_code == 200
    assert client.get(f"{API}/courses/{course.id}/fhir").status_code == 200
    with db.transaction() as s:
        rows = audit.recent(s, 50)
    reads = [(r.action, r.patient) for r in rows if r.username == "alice"]
    assert ("patient.read", patient.pseudonym) in reads
    assert sum(1 for a, p in reads if a == "course.read" and p == patient.pseudonym) >= 2
    assert all("Quixote" not in str(r) and "Zelda" not in str(r) for r in rows)


def test_registry_pages_carry_the_security_headers(client: TestClient) -> None:
    _login(client, "alice")
    for path in ("/registry/login", "/registry/patients", "/registry/dashboard"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"


def test_api_login_needs_a_json_content_type(client: TestClient) -> None:
    # a cross-site page can POST a body with no Content-Type without a CORS preflight
    body = b'{"username": "alice", "password": "%s"}' % PASSWORD.encode()
    r = client.post(f"{API}/session", content=body, headers={"content-type": ""})
    assert r.status_code == 422 and SESSION_COOKIE not in r.cookies
    r = client.post(f"{API}/session", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415 and SESSION_COOKIE not in r.cookies  # not JSON: said so
    r = client.post(f"{API}/session", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and SESSION_COOKIE in r.cookies


def test_parallel_failed_logins_cannot_exceed_the_limit(db: Database, people: People) -> None:
    """Logins from one address are serialised, so parallel attempts cannot all count the
    failures before any is written (PostgreSQL's default isolation would allow that)."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from ldn_derm.registry.auth import MAX_FAILURES, authenticate
    from ldn_derm.registry.errors import AuthenticationError, RateLimitedError
    from ldn_derm.registry.models import LoginAttempt

    def attempt(_: int) -> str:
        try:
            authenticate(db, "alice", "wrong password", "198.51.100.7")
        except RateLimitedError:
            return "limited"
        except AuthenticationError:
            return "failed"
        return "ok"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(attempt, range(24)))
    assert outcomes.count("failed") == MAX_FAILURES
    assert outcomes.count("limited") == 24 - MAX_FAILURES
    with db.transaction() as s:
        recorded = s.scalar(
            select(func.count()).where(
                LoginAttempt.username == "alice", LoginAttempt.success.is_(False)
            )
        )
    assert recorded == MAX_FAILURES


def test_an_ipv6_client_is_limited_by_its_slash_64(
    db: Database, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ldn_derm.registry import auth
    from ldn_derm.registry.errors import AuthenticationError, RateLimitedError

    monkeypatch.setattr(auth, "MAX_ADDRESS_FAILURES", 3)
    for i in range(3):  # a new address of the same /64 and a new user name each time
        with pytest.raises(AuthenticationError):
            auth.authenticate(db, f"guess{i}", "Winter1", f"2001:db8:7:7::{i + 1:x}")
    with pytest.raises(RateLimitedError):
        auth.authenticate(db, "alice", PASSWORD, "2001:db8:7:7:ffff::1")
    # another /64 is another source
    assert auth.authenticate(db, "alice", PASSWORD, "2001:db8:7:8::1").username == "alice"
