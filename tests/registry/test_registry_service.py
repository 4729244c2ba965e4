"""The registry's use cases on SQLite and PostgreSQL: model, roles, audit, versions."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from registry_testkit import People, visit_payload
from sqlalchemy import func, select

from ldn_derm.errors import UnknownConditionError
from ldn_derm.registry.db import Database
from ldn_derm.registry.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RegistryInputError,
)
from ldn_derm.registry.models import AuditEvent, PatientIdentity, Visit, VisitSideEffect
from ldn_derm.registry.service import Registry, age_band
from ldn_derm.registry.views import CourseView, PatientView
from ldn_derm.registry.vocab import Measure


def audit_actions(db: Database) -> list[tuple[str, str, str | None]]:
    with db.transaction() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return [(e.action, e.outcome, e.patient_pseudonym) for e in rows]


def test_patient_course_and_visit_round_trip(
    clinic: Registry, patient: PatientView, course: CourseView
) -> None:
    assert patient.pseudonym.startswith("P-") and len(patient.pseudonym) == 10
    assert patient.identity is not None and patient.identity.family_name == "Quixote"
    assert course.primary_measure is Measure.PASI  # psoriasis default
    visit, created = clinic.add_visit(course.id, visit_payload(0, pasi=12.5, notes="tired"))
    assert created and visit.measures[Measure.PASI] == 12.5
    assert {e.effect for e in visit.side_effects} == {"vivid-dreams", "headache"}
    again = clinic.get_course(course.id)
    assert [x.id for x in again.visits] == [visit.id] and again.visits[0].notes == "tired"
    listed = clinic.list_patients()
    assert [p.pseudonym for p in listed] == [patient.pseudonym]
    assert listed[0].courses[0].condition_name == "Psoriasis"


def test_identifying_fields_live_apart_from_the_pseudonymous_record(
    db: Database, patient: PatientView
) -> None:
    with db.transaction() as s:
        ident = s.scalar(select(PatientIdentity))
        assert ident is not None and ident.family_name == "Quixote"
        from ldn_derm.registry.models import Patient

        row = s.scalar(select(Patient))
        assert row is not None
        assert {c.name for c in Patient.__table__.columns}.isdisjoint(
            {"given_name", "family_name", "birth_date"}
        )


def test_researchers_see_no_names_no_birth_dates_and_no_free_text(
    db: Database, people: People, clinic: Registry, patient: PatientView, course: CourseView
) -> None:
    clinic.add_visit(
        course.id,
        visit_payload(
            0,
            notes="lives at 1 Elm St",
            side_effects=[{"effect": "other", "detail": "rash on Tuesday"}],
        ),
    )
    research = Registry(db, people.researcher.actor())
    (seen,) = research.list_patients()
    assert seen.identity is None
    assert research.get_patient(patient.pseudonym).identity is None
    full = research.get_course(course.id)
    assert full.notes is None and full.visits[0].notes is None
    assert full.visits[0].side_effects[0].detail is None
    (cohort,) = research.cohort()
    assert cohort.age_band == "50-59" and cohort.sex == "female"
    with pytest.raises(PermissionDeniedError):
        research.add_visit(course.id, visit_payload(5))
    assert ("visit.create", "denied", None) in audit_actions(db)


def test_a_clinician_cannot_reach_another_clinics_patients(
    db: Database, people: People, patient: PatientView, course: CourseView
) -> None:
    other = Registry(db, people.other_clinician.actor(ip="198.51.100.9"))
    assert other.list_patients() == []
    assert other.cohort() == []
    with pytest.raises(NotFoundError):
        other.get_patient(patient.pseudonym)
    with pytest.raises(NotFoundError):
        other.get_course(course.id)
    with pytest.raises(NotFoundError):
        other.add_visit(course.id, visit_payload(1))
    with pytest.raises(NotFoundError):
        other.create_course(
            patient.pseudonym,
            {
                "condition_id": "psoriasis",
                "start_date": "2025-01-01",
                "regimen": {"start_dose_mg": 1, "target_dose_mg": 4.5},
            },
        )
    denied = [a for a in audit_actions(db) if a[1] == "denied"]
    assert len(denied) == 4
    with db.transaction() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).first()
        assert event is not None and event.ip == "198.51.100.9" and event.username == "bob"


def test_admins_see_no_patient_data(db: Database, people: People, patient: PatientView) -> None:
    admin = Registry(db, people.admin.actor())
    for call in (admin.list_patients, admin.cohort, lambda: admin.get_patient(patient.pseudonym)):
        with pytest.raises(PermissionDeniedError):
            call()


def test_every_read_and_write_is_audited_without_names(
    db: Database, clinic: Registry, patient: PatientView, course: CourseView
) -> None:
    clinic.add_visit(course.id, visit_payload(0))
    clinic.get_course(course.id)
    clinic.get_patient(patient.pseudonym)
    clinic.list_patients()
    actions = [a for a, outcome, _ in audit_actions(db) if outcome == "ok"]
    for expected in (
        "patient.create",
        "course.create",
        "visit.create",
        "course.read",
        "patient.read",
        "patient.list",
    ):
        assert expected in actions
    with db.transaction() as s:
        events = [
            e
            for e in s.scalars(select(AuditEvent))
            if e.action.startswith(("patient", "course", "visit"))
        ]
    assert all(e.ip == "203.0.113.7" and e.username == "alice" for e in events)
    assert all(e.at.tzinfo is not None for e in events)
    dump = repr([(e.detail, e.object_id, e.patient_pseudonym) for e in events])
    assert "Quixote" not in dump and "Zelda" not in dump and "1970" not in dump


def test_a_repeated_client_token_returns_the_stored_visit(
    db: Database, clinic: Registry, course: CourseView
) -> None:
    first, created = clinic.add_visit(course.id, visit_payload(0, "tok-12345678"))
    second, created_again = clinic.add_visit(course.id, visit_payload(0, "tok-12345678"))
    assert created and not created_again and first.id == second.id
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Visit)) == 1


def test_a_used_client_token_with_a_different_visit_is_a_conflict_not_a_silent_loss(
    db: Database, clinic: Registry, course: CourseView
) -> None:
    """The form reused after Back, with the next visit typed into it: the page used to say
    "Visit saved." while the new visit was thrown away as a replay of the first."""
    clinic.add_visit(course.id, visit_payload(0, "tok-12345678"))
    with pytest.raises(ConflictError, match="was not saved"):
        clinic.add_visit(course.id, visit_payload(1, "tok-12345678", itch_nrs=2))
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Visit)) == 1
    assert clinic.add_visit(course.id, visit_payload(1, "tok-87654321", itch_nrs=2))[1]


def test_stale_versions_are_conflicts_not_silent_overwrites(
    clinic: Registry, patient: PatientView, course: CourseView
) -> None:
    v1 = course.version
    updated = clinic.update_course(course.id, {"version": v1, "notes": "first"})
    assert updated.version == v1 + 1
    with pytest.raises(ConflictError, match="changed by someone else"):
        clinic.update_course(course.id, {"version": v1, "notes": "second"})
    assert clinic.get_course(course.id).notes == "first"
    p2 = clinic.update_patient(
        patient.pseudonym, {"version": patient.version, "family_name": "Quijote"}
    )
    assert p2.version == patient.version + 1
    with pytest.raises(ConflictError):
        clinic.update_patient(patient.pseudonym, {"version": patient.version, "sex": "male"})
    visit, _ = clinic.add_visit(course.id, visit_payload(0))
    edited = clinic.update_visit(visit.id, {**visit_payload(0, itch_nrs=2), "version": 1})
    assert edited.version == 2 and edited.measures[Measure.ITCH_NRS] == 2
    with pytest.raises(ConflictError):
        clinic.update_visit(visit.id, {**visit_payload(0), "version": 1})


def test_editing_a_visits_side_effects_replaces_them(
    db: Database, clinic: Registry, course: CourseView
) -> None:
    visit, _ = clinic.add_visit(course.id, visit_payload(0))
    edit = {
        **visit_payload(0),
        "version": visit.version,
        "side_effects": [{"effect": "headache", "severity": "severe"}],
    }
    after = clinic.update_visit(visit.id, edit)
    assert [(e.effect, e.severity) for e in after.side_effects] == [("headache", "severe")]
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(VisitSideEffect)) == 1


def test_stopping_a_course_and_date_checks(clinic: Registry, course: CourseView) -> None:
    with pytest.raises(RegistryInputError, match="stop date is before the start"):
        clinic.update_course(
            course.id,
            {"version": course.version, "stop_date": "2024-12-01", "stop_reason": "no-response"},
        )
    with pytest.raises(RegistryInputError, match="both a stop date and a stop reason"):
        clinic.update_course(course.id, {"version": course.version, "stop_date": "2025-03-01"})
    stopped = clinic.update_course(
        course.id,
        {"version": course.version, "stop_date": "2025-03-01", "stop_reason": "side-effects"},
    )
    assert stopped.stop_date == date(2025, 3, 1) and stopped.stop_reason == "side-effects"
    with pytest.raises(RegistryInputError, match="days before the course started"):
        clinic.add_visit(course.id, visit_payload(-60))


def test_unknown_conditions_and_patients(clinic: Registry, patient: PatientView) -> None:
    with pytest.raises(UnknownConditionError, match="known conditions"):
        clinic.create_course(
            patient.pseudonym,
            {
                "condition_id": "acne",
                "start_date": "2025-01-01",
                "regimen": {"start_dose_mg": 1.5, "target_dose_mg": 4.5},
            },
        )
    with pytest.raises(NotFoundError):
        clinic.get_patient("P-NOTHERE1")


def test_age_bands() -> None:
    assert age_band(date(2000, 6, 1), date(2018, 5, 31)) == "<18"
    assert age_band(date(2000, 6, 1), date(2018, 6, 1)) == "18-29"
    assert age_band(date(1970, 2, 3), date(2025, 1, 1)) == "50-59"
    assert age_band(date(1940, 1, 1), date(2025, 1, 1)) == "80+"


def test_concurrent_writers_lose_no_updates(
    db: Database, people: People, course: CourseView
) -> None:
    """Threads do read-modify-write on one course, retrying on conflict: every marker survives."""
    markers = [f"[t{i}-{j}]" for i in range(4) for j in range(3)]
    errors: list[BaseException] = []

    def writer(mine: list[str]) -> None:
        registry = Registry(db, people.clinician.actor())
        try:
            for marker in mine:
                while True:
                    current = registry.get_course(course.id)
                    notes = (current.notes or "") + marker
                    try:
                        registry.update_course(
                            course.id, {"version": current.version, "notes": notes}
                        )
                        break
                    except ConflictError:
                        continue
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(markers[i * 3 : (i + 1) * 3],)) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    final = Registry(db, people.clinician.actor()).get_course(course.id)
    assert final.notes is not None
    assert sorted(m for m in markers if final.notes.count(m) == 1) == sorted(markers)
    assert final.version == course.version + len(markers)


def test_a_45_mg_visit_is_refused_and_the_dashboard_keeps_its_bands(
    clinic: Registry, course: CourseView
) -> None:
    from ldn_derm.registry.analytics.response import dose_bands, evaluate

    clinic.add_visit(course.id, visit_payload(0, dose_mg=3))
    before = evaluate(clinic.get_course(course.id))
    with pytest.raises(RegistryInputError, match=r"45 mg is 10× 4\.5 mg"):
        clinic.add_visit(course.id, visit_payload(30, dose_mg=45))
    after = clinic.get_course(course.id)
    assert [v.dose_mg for v in after.visits] == [3]
    assert evaluate(after).max_dose_mg == before.max_dose_mg == 3
    assert evaluate(after).dose_band == dose_bands()[2]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"dose_mg": True}, "Dose"),
        ({"itch_nrs": False}, "not false"),
        ({"visit_date": 1738368000}, "not a number"),
    ],
)
def test_json_true_is_not_a_dose_and_a_number_is_not_a_date(
    clinic: Registry, course: CourseView, change: dict[str, object], said: str
) -> None:
    """pydantic's lax mode took true for 1 mg and a Unix time for a date."""
    with pytest.raises(RegistryInputError, match=said):
        clinic.add_visit(course.id, {**visit_payload(0), **change})
    visit, _ = clinic.add_visit(course.id, {**visit_payload(0), "dose_mg": "4.5"})  # form text
    with pytest.raises(RegistryInputError, match="not true"):
        clinic.update_visit(visit.id, {**visit_payload(0), "version": True})


def test_dates_that_cannot_be_are_refused(
    clinic: Registry, patient: PatientView, course: CourseView
) -> None:
    """A course before the birth, a birth after the treatment, a stop before a dosed visit and
    a dose after the stop were all stored (the cohort export then aged them wrongly)."""
    regimen = {"start_dose_mg": 1.5, "target_dose_mg": 4.5}
    with pytest.raises(RegistryInputError, match="before the patient's birth date"):
        clinic.create_course(
            patient.pseudonym,
            {"condition_id": "psoriasis", "start_date": "1950-01-01", "regimen": regimen},
        )
    clinic.add_visit(course.id, visit_payload(59))  # 2025-03-01, 4.5 mg
    with pytest.raises(RegistryInputError, match="after the patient's first recorded"):
        clinic.update_patient(
            patient.pseudonym, {"version": patient.version, "birth_date": "2026-01-01"}
        )
    with pytest.raises(RegistryInputError, match=r"records a dose of 4\.5 mg/day after"):
        clinic.update_course(
            course.id,
            {"version": course.version, "stop_date": "2025-02-01", "stop_reason": "other"},
        )
    stopped = clinic.update_course(
        course.id, {"version": course.version, "stop_date": "2025-03-10", "stop_reason": "other"}
    )
    with pytest.raises(RegistryInputError, match="cannot record a dose"):
        clinic.add_visit(course.id, visit_payload(150))
    follow_up, _ = clinic.add_visit(course.id, {**visit_payload(150), "dose_mg": 0})
    assert follow_up.dose_mg == 0 and stopped.stop_date is not None
