"""Every refusal leaves an audit row (rate-limited login, role, CSRF, a replayed visit form,
refused admin pages); the client address comes from X-Forwarded-For only behind a trusted
proxy; another clinic's record gets exactly the 404 of a record that does not exist."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from registry_testkit import PASSWORD, People, visit_payload
from sqlalchemy import select

from ldn_derm.registry.auth import MAX_FAILURES
from ldn_derm.registry.db import Database
from ldn_derm.registry.models import AuditEvent
from ldn_derm.registry.service import Registry
from ldn_derm.registry.views import CourseView, PatientView
from ldn_derm.web.app import create_app
from ldn_derm.web.settings import load_settings

API = "/api/v1/registry"
ClientFactory = Callable[..., TestClient]


def _events(db: Database, **where: object) -> list[AuditEvent]:
    with db.transaction() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, key) == value)
        return list(s.scalars(stmt))


def _login(client: TestClient, username: str) -> str:
    r = client.post(f"{API}/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token: str = r.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token


@pytest.fixture()
def peer_client(db_url: str, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """A client whose TCP peer is the given address, with these trusted proxies."""
    made: list[TestClient] = []

    def make(peer: str, proxies: tuple[str, ...] = ()) -> TestClient:
        settings = load_settings(
            database_url=db_url,
            data_dir=tmp_path / "data",
            dev=True,
            secret_key="test-secret",
            trusted_proxies=proxies,
        )
        made.append(TestClient(create_app(settings), client=(peer, 40000)))
        return made[-1]

    yield make
    for client in made:
        client.app.state.database.dispose()  # type: ignore[attr-defined]


# ------------------------------------------------------------------ client address


def test_a_spoofed_forwarded_for_does_not_escape_the_login_limit(
    peer_client: Callable[..., TestClient], db: Database, people: People
) -> None:
    """From a peer that is not a trusted proxy, a new X-Forwarded-For on every attempt
    changes nothing: the limit counts the peer, and the audit records the peer."""
    client = peer_client("203.0.113.50", proxies=("10.0.0.0/8",))
    for i in range(MAX_FAILURES):
        r = client.post(
            f"{API}/session",
            json={"username": "alice", "password": "wrong!"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        assert r.status_code == 401
    r = client.post(
        f"{API}/session",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert r.status_code == 429
    logins = _events(db, action="login")
    assert {e.ip for e in logins} == {"203.0.113.50"}
    assert [e.outcome for e in logins] == ["failed"] * MAX_FAILURES + ["rate-limited"]


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
    peer_client: Callable[..., TestClient], db: Database, people: People
) -> None:
    client = peer_client("10.0.0.2", proxies=("10.0.0.0/8",))
    for _ in range(MAX_FAILURES):
        client.post(
            f"{API}/session",
            json={"username": "alice", "password": "wrong!"},
            headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7"},
        )
    # another client behind the same proxy is not affected by that client's failures
    r = client.post(
        f"{API}/session",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.8"},
    )
    assert r.status_code == 200
    blocked = client.post(
        f"{API}/session",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert blocked.status_code == 429
    ips = [e.ip for e in _events(db, action="login")]
    assert ips == ["198.51.100.7"] * MAX_FAILURES + ["198.51.100.8", "198.51.100.7"]


# ------------------------------------------------------------------ audited refusals


def test_a_rate_limited_login_is_audited(
    client_factory: ClientFactory, db: Database, people: People
) -> None:
    client = client_factory()
    for _ in range(MAX_FAILURES + 2):
        client.post(f"{API}/session", json={"username": "alice", "password": "wrong!"})
    limited = _events(db, action="login", outcome="rate-limited")
    assert len(limited) == 2
    assert limited[0].username == "alice" and limited[0].detail["retry_after_s"] > 0


@pytest.mark.parametrize(
    ("user", "method", "path"),
    [
        ("alice", "GET", f"{API}/users"),
        ("alice", "GET", f"{API}/audit"),
        ("rhea", "POST", f"{API}/users"),
        ("alice", "GET", "/registry/users"),
        ("rhea", "GET", "/registry/audit"),
    ],
)
def test_a_role_refusal_is_audited(
    client_factory: ClientFactory, db: Database, people: People, user: str, method: str, path: str
) -> None:
    client = client_factory()
    _login(client, user)
    body = {"username": "x", "password": "long enough pw", "role": "admin"}
    r = client.request(method, path, json=body if method == "POST" else None)
    assert r.status_code == 403
    (event,) = _events(db, outcome="denied")
    assert (event.username, event.action, event.detail["reason"]) == (user, "access", "role")
    assert event.detail["path"] == path and event.ip == "testclient"


def test_a_role_refusal_in_the_service_is_audited(
    client_factory: ClientFactory, db: Database, people: People, course: CourseView
) -> None:
    client = client_factory()
    _login(client, "rhea")
    r = client.post(f"{API}/courses/{course.id}/visits", json=visit_payload(1))
    assert r.status_code == 403
    (event,) = _events(db, outcome="denied")
    assert (event.username, event.action, event.detail) == (
        "rhea",
        "visit.create",
        {"reason": "role"},
    )


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_csrf_refusal_is_audited_api_and_pages(
    client_factory: ClientFactory,
    db: Database,
    people: People,
    patient: PatientView,
    token: str | None,
) -> None:
    client = client_factory()
    _login(client, "alice")
    del client.headers["X-CSRF-Token"]
    headers = {"X-CSRF-Token": token} if token else {}
    api = client.patch(f"{API}/patients/{patient.pseudonym}", json={"version": 1}, headers=headers)
    page = client.post(
        "/registry/patients",
        data={"given_name": "A", "family_name": "B"} | ({"csrf_token": token} if token else {}),
        follow_redirects=False,
    )
    assert (api.status_code, page.status_code) == (403, 403)
    events = _events(db, action="csrf")
    assert [(e.username, e.outcome, e.detail["path"]) for e in events] == [
        ("alice", "denied", f"{API}/patients/{patient.pseudonym}"),
        ("alice", "denied", "/registry/patients"),
    ]


def test_a_forged_login_form_is_audited(
    client_factory: ClientFactory, db: Database, people: People
) -> None:
    client = client_factory()
    r = client.post(
        "/registry/login",
        data={"username": "alice", "password": PASSWORD, "login_token": "forged"},
    )
    assert r.status_code == 403
    (event,) = _events(db, action="csrf")
    assert event.outcome == "denied" and event.username is None


def test_a_replayed_visit_form_is_audited(
    client_factory: ClientFactory, db: Database, people: People, course: CourseView
) -> None:
    client = client_factory()
    _login(client, "alice")
    form = visit_payload(1, "replay-" + "7" * 24)
    first = client.post(f"{API}/courses/{course.id}/visits", json=form)
    again = client.post(f"{API}/courses/{course.id}/visits", json=form)
    assert (first.status_code, again.status_code) == (201, 200)
    outcomes = [e.outcome for e in _events(db, action="visit.create")]
    assert outcomes == ["ok", "replayed"]
    (replay,) = _events(db, outcome="replayed")
    assert replay.object_id == str(first.json()["id"]) and replay.patient_pseudonym


# ------------------------------------------------------------------ uniform 404s


def test_another_clinics_records_get_exactly_the_404_of_no_record(
    client_factory: ClientFactory,
    clinic: Registry,
    people: People,
    patient: PatientView,
    course: CourseView,
) -> None:
    visit, _ = clinic.add_visit(course.id, visit_payload(1))
    bob = client_factory()
    _login(bob, "bob")
    missing_visit, missing_course = visit.id + 10_000, course.id + 10_000
    pairs = [
        (("PATCH", f"/visits/{visit.id}"), ("PATCH", f"/visits/{missing_visit}")),
        (("GET", f"/courses/{course.id}"), ("GET", f"/courses/{missing_course}")),
        (("PATCH", f"/courses/{course.id}"), ("PATCH", f"/courses/{missing_course}")),
        (("GET", f"/courses/{course.id}/fhir"), ("GET", f"/courses/{missing_course}/fhir")),
        (("POST", f"/courses/{course.id}/visits"), ("POST", f"/courses/{missing_course}/visits")),
        (("GET", f"/patients/{patient.pseudonym}"), ("GET", "/patients/P-ZZZZZZZZ")),
    ]
    for (method, real), (_, absent) in pairs:
        body = {"version": 1} if real.startswith("/courses/") else visit_payload(2, version=1)
        if real.endswith("/visits"):
            body = visit_payload(2)
        a = bob.request(method, API + real, json=body if method != "GET" else None)
        b = bob.request(method, API + absent, json=body if method != "GET" else None)
        assert a.status_code == b.status_code == 404, (real, a.text)
        # the same body once the id itself (which the client sent) is taken out
        strip_a = a.text.replace(real.split("/")[2], "ID")
        strip_b = b.text.replace(absent.split("/")[2], "ID")
        assert strip_a == strip_b, (a.text, b.text)
        if real.startswith("/visits/"):  # the visit's course id is not revealed either
            assert "course" not in a.json()["message"], a.text
