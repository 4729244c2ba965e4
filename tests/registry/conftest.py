"""Registry fixtures. `backend` runs a test on SQLite and on PostgreSQL (skipped, with the
reason shown by -ra, where no PostgreSQL server answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from registry_testkit import (
    People,
    drop_pg_schema,
    make_client,
    make_people,
    new_pg_schema,
    require_postgres,
    wipe,
)

from ldn_derm.registry import migrate
from ldn_derm.registry.db import Database
from ldn_derm.registry.service import Registry
from ldn_derm.registry.views import CourseView, PatientView

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database per backend for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('registry-db') / 'registry.sqlite3'}"
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


@pytest.fixture()
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    wipe(database)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture()
def people(db: Database) -> People:
    return make_people(db)


@pytest.fixture()
def clinic(db: Database, people: People) -> Registry:
    """The registry as clinic A's clinician sees it."""
    return Registry(db, people.clinician.actor(ip="203.0.113.7"))


@pytest.fixture()
def patient(clinic: Registry) -> PatientView:
    return clinic.create_patient(
        {
            "given_name": "Zelda",
            "family_name": "Quixote",
            "birth_date": "1970-02-03",
            "sex": "female",
        }
    )


@pytest.fixture()
def course(clinic: Registry, patient: PatientView) -> CourseView:
    return clinic.create_course(
        patient.pseudonym,
        {
            "condition_id": "psoriasis",
            "start_date": date(2025, 1, 1).isoformat(),
            "regimen": {"start_dose_mg": 1.5, "target_dose_mg": 4.5},
        },
    )


@pytest.fixture()
def client_factory(
    db_url: str, db: Database, tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    made: list[TestClient] = []

    def make(dev: bool = True) -> TestClient:
        client = make_client(db_url, tmp_path, dev)
        made.append(client)
        return client

    yield make
    for client in made:  # the apps outlive the test (gc.freeze): close their connections
        client.app.state.database.dispose()  # type: ignore[attr-defined]
