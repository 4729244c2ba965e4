"""The registry's use cases, each one transaction, each one checked and audited.

`Registry(db, actor)` is what the web pages, the API, the command line and the demo loader call.
Rules enforced here (not in the web layer, so every door gets them):
- clinicians read and write their own clinic's patients, with names;
- researchers read pseudonymised data (no names, birth dates or free text), of their clinic if
  they have one, else of every clinic; they never write;
- admins manage accounts and see no patient data;
- every read and write of patient data leaves an audit record; refusals are audited too;
- updates carry the version the client read; a stale version is a ConflictError, never a silent
  overwrite.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ldn_derm.errors import LdnError, UnknownConditionError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry import audit, research
from ldn_derm.registry.audit import Actor
from ldn_derm.registry.db import Database
from ldn_derm.registry.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RegistryInputError,
)
from ldn_derm.registry.models import (
    Clinic,
    Course,
    Patient,
    PatientIdentity,
    Visit,
    VisitSideEffect,
    utcnow,
)
from ldn_derm.registry.schemas import (
    CourseIn,
    CourseUpdate,
    PatientIn,
    PatientUpdate,
    VisitIn,
    VisitUpdate,
    parse,
)
from ldn_derm.registry.views import (
    CourseView,
    IdentityView,
    PatientView,
    SideEffectView,
    VisitView,
    condition_name,
)
from ldn_derm.registry.vocab import Measure, Role, default_primary_measure

T = TypeVar("T")
PSEUDONYM_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud safely
PSEUDONYM_PATTERN = re.compile(rf"P-[{PSEUDONYM_ALPHABET}]{{8}}")
BASELINE_WINDOW = timedelta(days=30)  # a baseline visit may precede the start date by this much


def new_pseudonym() -> str:
    return "P-" + "".join(secrets.choice(PSEUDONYM_ALPHABET) for _ in range(8))


def age_band(birth: date, on: date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years < 18:
        return "<18"
    if years >= 80:
        return "80+"
    if years < 30:
        return "18-29"
    low = years // 10 * 10
    return f"{low}-{low + 9}"


class _DeniedError(Exception):
    """Raised inside a transaction; the refusal is audited after it rolls back."""

    def __init__(self, error: LdnError, **details: Any) -> None:
        super().__init__(str(error))
        self.error = error
        self.details = details


class Registry:
    def __init__(self, db: Database, actor: Actor) -> None:
        self.db = db
        self.actor = actor

    # ------------------------------------------------------------------ plumbing

    def _run(self, action: str, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction; audit refusals; turn version clashes into 409s."""
        try:
            with self.db.transaction() as s:
                return work(s)
        except _DeniedError as denied:
            with self.db.transaction() as s:
                audit.record(s, self.actor, action, outcome="denied", **denied.details)
            raise denied.error from None
        except StaleDataError:
            raise ConflictError(
                "this record was changed by someone else while you were editing it; "
                "reload it and enter your change again"
            ) from None

    def _require(self, action: str, write: bool) -> None:
        role = self.actor.role
        if role is Role.CLINICIAN and self.actor.clinic_id is not None:
            return
        if role is Role.RESEARCHER and not write:
            return
        what = "change" if write else "see"
        raise _DeniedError(
            PermissionDeniedError(f"the {role.value} role may not {what} patient records"),
            detail={"reason": "role"},
        )

    def _visible(self, clinic_id: int) -> bool:
        if self.actor.role is Role.CLINICIAN:
            return clinic_id == self.actor.clinic_id
        if self.actor.role is Role.RESEARCHER:
            return self.actor.clinic_id is None or clinic_id == self.actor.clinic_id
        return False

    def _scope(self, stmt: Select[Patient]) -> Select[Patient]:
        if self.actor.role is Role.RESEARCHER and self.actor.clinic_id is None:
            return stmt
        return stmt.where(Patient.clinic_id == self.actor.clinic_id)

    @property
    def _identified(self) -> bool:
        return self.actor.identified_access

    def _patient(self, s: Session, pseudonym: str) -> Patient:
        wellformed = PSEUDONYM_PATTERN.fullmatch(pseudonym) is not None
        patient = (
            s.scalar(select(Patient).where(Patient.pseudonym == pseudonym)) if wellformed else None
        )
        if patient is None or not self._visible(patient.clinic_id):
            raise _DeniedError(
                NotFoundError(f"no patient {pseudonym} in your clinic"),
                object_type="patient",
                object_id=pseudonym if wellformed else "(malformed id)",
                detail={"reason": "not found or other clinic"},
            )
        return patient

    def _course(self, s: Session, course_id: int) -> Course:
        course = s.get(Course, course_id) if _valid_id(course_id) else None
        if course is None or not self._visible(course.patient.clinic_id):
            raise _DeniedError(
                NotFoundError(f"no treatment course {course_id} in your clinic"),
                object_type="course",
                object_id=course_id,
                detail={"reason": "not found or other clinic"},
            )
        return course

    def _audit(
        self, s: Session, action: str, patient: Patient | None, obj: str, obj_id: object, **kw: Any
    ) -> None:
        audit.record(
            s,
            self.actor,
            action,
            object_type=obj,
            object_id=str(obj_id),
            patient=patient.pseudonym if patient else None,
            clinic_id=patient.clinic_id if patient else None,
            **kw,
        )

    # ------------------------------------------------------------------ views

    def _visit_view(self, v: Visit, start: date) -> VisitView:
        measures = {m: val for m in Measure if (val := getattr(v, m.value)) is not None}
        named = self._identified
        return VisitView(
            id=v.id,
            day=(v.visit_date - start).days,
            visit_date=v.visit_date if named else None,
            dose_mg=v.dose_mg,
            dose_time=v.dose_time,
            measures=measures,
            investigator_global_scale=v.investigator_global_scale,
            adherence=v.adherence,
            side_effects=tuple(
                SideEffectView(e.effect, e.severity, e.detail if named else None)
                for e in v.side_effects
            ),
            notes=v.notes if named else None,
            version=v.version,
            client_token=v.client_token if named else None,
            pseudonymised=not named,
        )

    def _course_view(self, c: Course, visits: bool = True, cohort: bool = False) -> CourseView:
        """The course as this reader may see it: pseudonymised (no dates, no free text, the
        regimen's doses only; sex and age band instead) unless the reader has identified
        access."""
        ident = c.patient.identity
        named = self._identified
        described = cohort or not named
        return CourseView(
            id=c.id,
            patient=c.patient.pseudonym,
            clinic_id=c.patient.clinic_id,
            condition_id=c.condition_id,
            condition_name=condition_name(c.condition_id),
            primary_measure=Measure(c.primary_measure),
            regimen=dict(c.regimen) if named else research.regimen(dict(c.regimen)),
            start_date=c.start_date if named else None,
            stop_date=c.stop_date if named else None,
            stop_day=None if c.stop_date is None else (c.stop_date - c.start_date).days,
            stop_reason=c.stop_reason,
            stop_detail=c.stop_detail if named else None,
            notes=c.notes if named else None,
            version=c.version,
            visits=tuple(self._visit_view(v, c.start_date) for v in c.visits) if visits else (),
            sex=c.patient.sex if described else None,
            age_band=age_band(ident.birth_date, c.start_date) if described and ident else None,
            patient_name=ident.display_name if ident and named and not cohort else None,
            pseudonymised=not named,
        )

    def _patient_view(self, p: Patient, courses: bool = True) -> PatientView:
        ident = p.identity if self._identified else None
        return PatientView(
            pseudonym=p.pseudonym,
            clinic_id=p.clinic_id,
            clinic_name=p.clinic.name,
            sex=p.sex,
            version=p.version,
            identity=None
            if ident is None
            else IdentityView(
                ident.given_name,
                ident.family_name,
                ident.birth_date,
                ident.source_system,
                ident.source_id,
            ),
            courses=tuple(self._course_view(c, visits=False) for c in p.courses) if courses else (),
            pseudonymised=not self._identified,
        )

    # ------------------------------------------------------------------ patients

    def list_patients(self) -> list[PatientView]:
        def work(s: Session) -> list[PatientView]:
            self._require("patient.list", write=False)
            stmt = self._scope(select(Patient)).options(
                selectinload(Patient.identity),
                selectinload(Patient.courses),
                selectinload(Patient.clinic),
            )
            patients = list(s.scalars(stmt.order_by(Patient.id)))
            views = [self._patient_view(p) for p in patients]
            if self._identified:
                views.sort(key=lambda v: v.identity.display_name.lower() if v.identity else "")
            audit.record(
                s,
                self.actor,
                "patient.list",
                object_type="patient",
                detail={"count": len(views), "identified": self._identified},
            )
            return views

        return self._run("patient.list", work)

    def create_patient(self, data: PatientIn | Mapping[str, Any]) -> PatientView:
        patient_in = data if isinstance(data, PatientIn) else parse(PatientIn, data, "new patient")

        def work(s: Session) -> PatientView:
            self._require("patient.create", write=True)
            return self._insert_patient(s, patient_in, "patient.create")

        return self._run("patient.create", work)

    def _insert_patient(self, s: Session, patient_in: PatientIn, action: str) -> PatientView:
        clinic_id = self.actor.clinic_id
        assert clinic_id is not None
        pseudonym = new_pseudonym()
        while s.scalar(select(Patient.id).where(Patient.pseudonym == pseudonym)) is not None:
            pseudonym = new_pseudonym()
        patient = Patient(pseudonym=pseudonym, clinic_id=clinic_id, sex=patient_in.sex.value)
        patient.identity = PatientIdentity(
            clinic_id=clinic_id,
            given_name=patient_in.given_name,
            family_name=patient_in.family_name,
            birth_date=patient_in.birth_date,
            source_system=patient_in.source_system,
            source_id=patient_in.source_id,
        )
        s.add(patient)
        s.flush()
        s.refresh(patient, ["clinic"])
        self._audit(s, action, patient, "patient", pseudonym)
        return self._patient_view(patient, courses=False)

    def import_patient(self, patient_in: PatientIn) -> tuple[PatientView, bool]:
        """Register a patient read from a FHIR bundle; returns (patient, created). Importing the
        same bundle twice finds the patient already registered (same source id)."""

        def work(s: Session) -> tuple[PatientView, bool]:
            self._require("patient.import", write=True)
            if patient_in.source_id:
                existing = s.scalar(
                    select(Patient)
                    .join(PatientIdentity)
                    .where(
                        PatientIdentity.clinic_id == self.actor.clinic_id,
                        PatientIdentity.source_system == patient_in.source_system,
                        PatientIdentity.source_id == patient_in.source_id,
                    )
                )
                if existing is not None:
                    self._audit(
                        s,
                        "patient.import",
                        existing,
                        "patient",
                        existing.pseudonym,
                        detail={"created": False},
                    )
                    return self._patient_view(existing), False
            return self._insert_patient(s, patient_in, "patient.import"), True

        return self._run("patient.import", work)

    def get_patient(self, pseudonym: str) -> PatientView:
        def work(s: Session) -> PatientView:
            self._require("patient.read", write=False)
            patient = self._patient(s, pseudonym)
            self._audit(s, "patient.read", patient, "patient", pseudonym)
            return self._patient_view(patient)

        return self._run("patient.read", work)

    def update_patient(
        self, pseudonym: str, data: PatientUpdate | Mapping[str, Any]
    ) -> PatientView:
        upd = data if isinstance(data, PatientUpdate) else parse(PatientUpdate, data, "patient")

        def work(s: Session) -> PatientView:
            self._require("patient.update", write=True)
            patient = self._patient(s, pseudonym)
            _check_version(patient.version, upd.version, f"patient {pseudonym}")
            ident = patient.identity
            assert ident is not None
            changed = []
            if upd.birth_date is not None:
                _check_birth_before_treatment(patient.courses, upd.birth_date)
            for name in ("given_name", "family_name", "birth_date"):
                value = getattr(upd, name)
                if value is not None and value != getattr(ident, name):
                    setattr(ident, name, value)
                    changed.append(name)
            if upd.sex is not None and upd.sex.value != patient.sex:
                patient.sex = upd.sex.value
                changed.append("sex")
            patient.updated_at = utcnow()  # always bump the version: the change is one unit
            s.flush()
            self._audit(
                s, "patient.update", patient, "patient", pseudonym, detail={"fields": changed}
            )
            return self._patient_view(patient)

        return self._run("patient.update", work)

    # ------------------------------------------------------------------ courses

    def create_course(self, pseudonym: str, data: CourseIn | Mapping[str, Any]) -> CourseView:
        course_in = data if isinstance(data, CourseIn) else parse(CourseIn, data, "new course")
        kb = get_knowledge()
        if course_in.condition_id not in kb.conditions:
            known = ", ".join(sorted(kb.conditions))
            raise UnknownConditionError(
                f"unknown condition '{course_in.condition_id}'; known conditions: {known}"
            )

        def work(s: Session) -> CourseView:
            self._require("course.create", write=True)
            patient = self._patient(s, pseudonym)
            born = patient.identity.birth_date if patient.identity is not None else None
            if born is not None and course_in.start_date < born:
                raise RegistryInputError(
                    f"new course: the start date {course_in.start_date.isoformat()} is before the "
                    f"patient's birth date ({born.isoformat()})",
                    {"start_date": "is before the patient's birth date"},
                )
            course = Course(
                patient=patient,
                condition_id=course_in.condition_id,
                primary_measure=(
                    course_in.primary_measure or default_primary_measure(course_in.condition_id)
                ).value,
                regimen=course_in.regimen.model_dump(mode="json"),
                start_date=course_in.start_date,
                notes=course_in.notes or None,
                created_by=self.actor.user_id,
            )
            s.add(course)
            s.flush()
            self._audit(
                s,
                "course.create",
                patient,
                "course",
                course.id,
                detail={"condition": course.condition_id},
            )
            return self._course_view(course)

        return self._run("course.create", work)

    def get_course(self, course_id: int) -> CourseView:
        def work(s: Session) -> CourseView:
            self._require("course.read", write=False)
            course = self._course(s, course_id)
            self._audit(s, "course.read", course.patient, "course", course_id)
            return self._course_view(course)

        return self._run("course.read", work)

    def update_course(self, course_id: int, data: CourseUpdate | Mapping[str, Any]) -> CourseView:
        upd = data if isinstance(data, CourseUpdate) else parse(CourseUpdate, data, "course")

        def work(s: Session) -> CourseView:
            self._require("course.update", write=True)
            course = self._course(s, course_id)
            _check_version(course.version, upd.version, f"treatment course {course_id}")
            fields = upd.model_fields_set - {"version"}
            if "stop_date" in fields and upd.stop_date is not None:
                if upd.stop_date < course.start_date:
                    raise RegistryInputError(
                        "course: the stop date is before the start date",
                        {"stop_date": "is before the start date"},
                    )
                dosed = [v for v in course.visits if v.dose_mg and v.visit_date > upd.stop_date]
                if dosed:
                    last = max(dosed, key=lambda v: v.visit_date)
                    raise RegistryInputError(
                        f"course: the visit of {last.visit_date.isoformat()} records a dose of "
                        f"{last.dose_mg:g} mg/day after this stop date",
                        {"stop_date": "is before a visit that records a dose"},
                    )
                course.stop_date = upd.stop_date
                course.stop_reason = upd.stop_reason.value if upd.stop_reason else None
                course.stop_detail = upd.stop_detail
            if "primary_measure" in fields and upd.primary_measure is not None:
                course.primary_measure = upd.primary_measure.value
            if "regimen" in fields and upd.regimen is not None:
                course.regimen = upd.regimen.model_dump(mode="json")
            if "notes" in fields:
                course.notes = upd.notes or None
            course.updated_at = utcnow()
            s.flush()
            self._audit(
                s,
                "course.update",
                course.patient,
                "course",
                course_id,
                detail={"fields": sorted(fields)},
            )
            return self._course_view(course)

        return self._run("course.update", work)

    # ------------------------------------------------------------------ visits

    def add_visit(
        self, course_id: int, data: VisitIn | Mapping[str, Any]
    ) -> tuple[VisitView, bool]:
        """Record a visit in one transaction; returns (visit, created). A repeated client token
        returns the visit already stored (created False) instead of a duplicate."""
        visit_in = data if isinstance(data, VisitIn) else parse(VisitIn, data, "visit")

        def work(s: Session) -> tuple[VisitView, bool]:
            self._require("visit.create", write=True)
            course = self._course(s, course_id)
            if visit_in.client_token:
                existing = self._by_token(s, course_id, visit_in.client_token)
                if existing is not None:
                    _check_replay(existing, visit_in)
                    self._replayed(s, course.patient, existing.id, course_id)
                    return self._visit_view(existing, course.start_date), False
            _check_visit_date(course, visit_in.visit_date)
            _check_visit_dose_after_stop(course, visit_in.visit_date, visit_in.dose_mg)
            visit = Visit(
                course=course, created_by=self.actor.user_id, client_token=visit_in.client_token
            )
            _apply_visit(visit, visit_in)
            s.add(visit)
            s.flush()
            self._audit(
                s, "visit.create", course.patient, "visit", visit.id, detail={"course": course_id}
            )
            return self._visit_view(visit, course.start_date), True

        try:
            return self._run("visit.create", work)
        except IntegrityError:
            # Two submissions of the same form raced; the other one won. Return its visit.
            if visit_in.client_token:
                with self.db.transaction() as s:
                    existing = self._by_token(s, course_id, visit_in.client_token)
                    if existing is not None:
                        _check_replay(existing, visit_in)
                        self._replayed(s, existing.course.patient, existing.id, course_id)
                        return self._visit_view(existing, existing.course.start_date), False
            raise

    def _replayed(self, s: Session, patient: Patient, visit_id: int, course_id: int) -> None:
        """A repeated form (same client token) answered with the visit already stored: no
        write, but the read of that visit is audited."""
        self._audit(
            s,
            "visit.create",
            patient,
            "visit",
            visit_id,
            outcome="replayed",
            detail={"course": course_id},
        )

    @staticmethod
    def _by_token(s: Session, course_id: int, token: str) -> Visit | None:
        return s.scalar(
            select(Visit).where(Visit.course_id == course_id, Visit.client_token == token)
        )

    def update_visit(self, visit_id: int, data: VisitUpdate | Mapping[str, Any]) -> VisitView:
        upd = data if isinstance(data, VisitUpdate) else parse(VisitUpdate, data, "visit")

        def work(s: Session) -> VisitView:
            self._require("visit.update", write=True)
            visit = s.get(Visit, visit_id) if _valid_id(visit_id) else None
            if visit is None or not self._visible(visit.course.patient.clinic_id):
                # the same answer for another clinic's visit as for none: its existence (and
                # its course's id) stays hidden
                raise _DeniedError(
                    NotFoundError(f"no visit {visit_id} in your clinic"),
                    object_type="visit",
                    object_id=visit_id,
                    detail={"reason": "not found or other clinic"},
                )
            course = visit.course
            _check_version(visit.version, upd.version, f"visit {visit_id}")
            _check_visit_date(course, upd.visit_date)
            _check_visit_dose_after_stop(course, upd.visit_date, upd.dose_mg)
            with s.no_autoflush:  # one UPDATE (one version step) for the whole edit
                _apply_visit(visit, upd)
                visit.updated_at = utcnow()
            s.flush()
            self._audit(
                s, "visit.update", course.patient, "visit", visit_id, detail={"course": course.id}
            )
            return self._visit_view(visit, course.start_date)

        return self._run("visit.update", work)

    # ------------------------------------------------------------------ cohort

    def cohort(self, action: str = "cohort.read") -> list[CourseView]:
        """Every visible course with its visits, pseudonymised (no names, dates of birth or free
        text; sex and an age band instead), for analytics and export."""

        def work(s: Session) -> list[CourseView]:
            self._require(action, write=False)
            stmt = (
                select(Course)
                .join(Patient)
                .options(
                    selectinload(Course.visits).selectinload(Visit.side_effects),
                    selectinload(Course.patient).selectinload(Patient.identity),
                )
                .order_by(Course.id)
            )
            if not (self.actor.role is Role.RESEARCHER and self.actor.clinic_id is None):
                stmt = stmt.where(Patient.clinic_id == self.actor.clinic_id)
            pseudo = Registry(
                self.db,
                Actor(
                    self.actor.user_id, self.actor.username, Role.RESEARCHER, self.actor.clinic_id
                ),
            )
            courses = [pseudo._course_view(c, cohort=True) for c in s.scalars(stmt)]
            audit.record(
                s, self.actor, action, object_type="cohort", detail={"courses": len(courses)}
            )
            return courses

        return self._run(action, work)

    def clinic_name(self) -> str | None:
        if self.actor.clinic_id is None:
            return None
        with self.db.transaction() as s:
            clinic = s.get(Clinic, self.actor.clinic_id)
            return clinic.name if clinic else None


def _valid_id(value: int) -> bool:
    """Row ids are positive 32-bit integers; anything else cannot exist (and PostgreSQL would
    reject it with an error rather than "not found")."""
    return 0 < value < 2**31


def _check_version(current: int, given: int, what: str) -> None:
    if current != given:
        raise ConflictError(
            f"{what} was changed by someone else (you edited version {given}, it is now at "
            f"version {current}); reload it and enter your change again"
        )


def _check_birth_before_treatment(courses: list[Course], birth: date) -> None:
    dates = [c.start_date for c in courses] + [v.visit_date for c in courses for v in c.visits]
    if dates and birth > min(dates):
        raise RegistryInputError(
            f"patient: the birth date {birth.isoformat()} is after the patient's first recorded "
            f"treatment or visit ({min(dates).isoformat()})",
            {"birth_date": "is after a recorded course or visit"},
        )


def _check_visit_dose_after_stop(course: Course, visit_date: date, dose_mg: float) -> None:
    if course.stop_date is not None and visit_date > course.stop_date and dose_mg:
        raise RegistryInputError(
            f"visit: the course stopped on {course.stop_date.isoformat()}, so a visit on "
            f"{visit_date.isoformat()} cannot record a dose of {dose_mg:g} mg/day (a "
            "follow-up visit after stopping records 0)",
            {"dose_mg": "is a dose after the course stopped"},
        )


def _check_visit_date(course: Course, visit_date: date) -> None:
    if visit_date < course.start_date - BASELINE_WINDOW:
        raise RegistryInputError(
            f"visit: the visit date {visit_date.isoformat()} is more than "
            f"{BASELINE_WINDOW.days} days before the course started "
            f"({course.start_date.isoformat()})",
            {"visit_date": "is too long before the course start"},
        )


def _check_replay(stored: Visit, data: VisitIn) -> None:
    """A form's client token comes back: the same visit sent again is a replay (answered with
    the stored one); a different visit under a used token (the form reused after Back, a new
    visit typed into it) must not be thrown away behind a "saved" message."""
    measures = all(getattr(stored, m.value) == getattr(data, m.value) for m in Measure)
    effects = {(e.effect, e.severity, e.detail or None) for e in stored.side_effects}
    wanted = {(e.effect.value, e.severity.value, e.detail or None) for e in data.side_effects}
    same = (
        measures
        and effects == wanted
        and stored.visit_date == data.visit_date
        and stored.dose_mg == data.dose_mg
        and stored.dose_time == data.dose_time.value
        and stored.adherence == (data.adherence.value if data.adherence else None)
        and (stored.notes or None) == (data.notes or None)
    )
    if not same:
        raise ConflictError(
            f"this form was already used to save the visit of {stored.visit_date.isoformat()}, "
            "so the visit you entered was not saved; check it and save it again"
        )


def _apply_visit(visit: Visit, data: VisitIn | VisitUpdate) -> None:
    visit.visit_date = data.visit_date
    visit.dose_mg = data.dose_mg
    visit.dose_time = data.dose_time.value
    for m in Measure:
        setattr(visit, m.value, getattr(data, m.value))
    visit.investigator_global_scale = (
        data.investigator_global_scale.value
        if data.investigator_global is not None and data.investigator_global_scale
        else None
    )
    visit.adherence = data.adherence.value if data.adherence else None
    visit.notes = data.notes or None
    wanted = {e.effect.value: e for e in data.side_effects}
    for existing in list(visit.side_effects):
        if existing.effect not in wanted:
            visit.side_effects.remove(existing)
    have = {e.effect: e for e in visit.side_effects}
    for code, eff in wanted.items():
        row = have.get(code) or VisitSideEffect(effect=code)
        row.severity = eff.severity.value
        row.detail = eff.detail or None
        if code not in have:
            visit.side_effects.append(row)
