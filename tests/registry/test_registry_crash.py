"""Reliability against a real uvicorn server: SIGKILL during concurrent visit writes, and no lost
updates between several workers. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from registry_testkit import (
    PASSWORD,
    api_login,
    drop_pg_schema,
    make_people,
    new_pg_schema,
    require_postgres,
    running_server,
    start_server,
    visit_payload,
)
from sqlalchemy import func, select

from ldn_derm.registry import auth, migrate
from ldn_derm.registry.db import Database
from ldn_derm.registry.models import Visit, VisitSideEffect
from ldn_derm.registry.service import Registry

pytestmark = pytest.mark.timeout(300)

API = "/api/v1/registry"
WRITERS = 4
CYCLES = 3
# Each cycle kills the server only after this many new writes were acknowledged (then after a
# random extra moment, so the kill lands mid-write), however slow a loaded machine is; the
# deadline only catches a server that acknowledges nothing at all.
ACKS_PER_CYCLE = 5
CYCLE_DEADLINE_S = 90.0


@contextmanager
def _fresh(kind: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of its own (the server process writes to it too)."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        migrate.upgrade(url)
        yield url
        return
    require_postgres()
    schema, url = new_pg_schema()
    try:
        migrate.upgrade(url)
        yield url
    finally:
        drop_pg_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with _fresh(request.param, tmp_path) as url:
        yield url


@pytest.fixture()
def fresh_pg_url(tmp_path: Path) -> Iterator[str]:
    with _fresh("postgresql", tmp_path) as url:
        yield url


def _course(db: Database) -> int:
    people = make_people(db)
    registry = Registry(db, people.clinician.actor())
    patient = registry.create_patient(
        {"given_name": "Crash", "family_name": "Test", "birth_date": "1980-01-01"}
    )
    course = registry.create_course(
        patient.pseudonym,
        {
            "condition_id": "psoriasis",
            "start_date": "2025-01-01",
            "regimen": {"start_dose_mg": 1.5, "target_dose_mg": 4.5},
        },
    )
    return course.id


def test_acknowledged_visits_survive_repeated_sigkill(fresh_url: str, tmp_path: Path) -> None:
    db = Database(fresh_url)
    course_id = _course(db)
    acked: set[str] = set()
    lock = threading.Lock()
    clients = []

    def writer(client: httpx.Client, stop: threading.Event, seed: int) -> None:
        day = seed * 10_000
        while not stop.is_set():
            token = f"crash-{uuid.uuid4().hex}"
            day += 1
            try:
                r = client.post(
                    f"{API}/courses/{course_id}/visits", json=visit_payload(day % 300, token)
                )
            except httpx.HTTPError:
                return  # the server died under us: this write was never acknowledged
            if r.status_code in (200, 201):
                with lock:
                    acked.add(token)

    for cycle in range(CYCLES):
        with lock:
            before = len(acked)
        server = start_server(fresh_url, tmp_path)
        try:
            if not clients:  # sessions live in the database: they outlast the restarts
                for _ in range(WRITERS):
                    c = httpx.Client(base_url=server.base, timeout=10)
                    api_login(c, "alice", PASSWORD)
                    clients.append(c)
            for c in clients:
                c.base_url = httpx.URL(server.base)
            stop = threading.Event()
            threads = [
                threading.Thread(target=writer, args=(c, stop, i * 100 + cycle))
                for i, c in enumerate(clients)
            ]
            for t in threads:
                t.start()
            deadline = time.monotonic() + CYCLE_DEADLINE_S
            while time.monotonic() < deadline:
                with lock:
                    if len(acked) - before >= ACKS_PER_CYCLE:
                        break
                time.sleep(0.02)
            time.sleep(random.uniform(0.0, 0.3))
        finally:
            server.kill()  # SIGKILL mid-write: no shutdown, no flush, no rollback handler
        stop.set()
        for t in threads:
            t.join(timeout=15)
    for c in clients:
        c.close()

    assert len(acked) >= CYCLES * ACKS_PER_CYCLE, (
        f"only {len(acked)} writes were acknowledged in {CYCLES} cycles of up to "
        f"{CYCLE_DEADLINE_S:.0f} s: the server did not accept visits"
    )
    with db.transaction() as s:
        stored = set(s.scalars(select(Visit.client_token).where(Visit.course_id == course_id)))
        missing = acked - stored
        assert not missing, f"{len(missing)} acknowledged visits were lost"
        print(f"kill -9: {CYCLES} cycles, {len(acked)} acknowledged, {len(stored)} stored, 0 lost")
        per_visit = dict(
            s.execute(
                select(Visit.id, func.count(VisitSideEffect.id))
                .outerjoin(VisitSideEffect)
                .group_by(Visit.id)
            ).all()
        )
        assert set(per_visit.values()) == {2}, "a visit was stored without its side effects"
    if db.is_sqlite:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    db.dispose()


@pytest.mark.postgres
def test_several_workers_lose_no_updates(fresh_pg_url: str, tmp_path: Path) -> None:
    """Read-modify-write of one course from several threads through two server workers: each
    writer appends a marker to the notes and retries on 409. Without the version check some
    markers would be overwritten; with it every marker survives, exactly once. (Several workers
    is the PostgreSQL set-up; the SQLite variant runs in-process in test_registry_service.py.)"""
    fresh_url = fresh_pg_url
    db = Database(fresh_url)
    course_id = _course(db)
    markers = [f"[w{i}-{j}]" for i in range(4) for j in range(3)]
    conflicts = 0
    count_lock = threading.Lock()
    errors: list[str] = []

    with running_server(fresh_url, tmp_path, workers=2) as server:

        def writer(mine: list[str]) -> None:
            nonlocal conflicts
            with httpx.Client(base_url=server.base, timeout=20) as c:
                api_login(c, "alice")
                for marker in mine:
                    for _ in range(200):
                        course = c.get(f"{API}/courses/{course_id}").json()
                        notes = (course["notes"] or "") + marker
                        r = c.patch(
                            f"{API}/courses/{course_id}",
                            json={"version": course["version"], "notes": notes},
                        )
                        if r.status_code == 200:
                            break
                        if r.status_code != 409:
                            errors.append(f"{r.status_code} {r.text}")
                            return
                        with count_lock:
                            conflicts += 1
                    else:
                        errors.append(f"gave up on {marker}")

        threads = [
            threading.Thread(target=writer, args=(markers[i * 3 : (i + 1) * 3],)) for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

    assert not errors, errors
    alice = next(u for u in auth.list_users(db) if u.username == "alice")
    final = Registry(db, alice.actor()).get_course(course_id)
    for marker in markers:
        assert final.notes is not None and final.notes.count(marker) == 1, marker
    assert final.version == 1 + len(markers)
    db.dispose()
