"""Plain, immutable records handed out by the registry service (never live ORM objects).

What a record holds depends on who asked: for a reader without identified access (researchers)
the records are *pseudonymised* — `identity`, every calendar date and all free text are None
and the regimen holds only its doses — so a template or JSON encoder cannot leak what it never
received. Days since the course start (`VisitView.day`, `CourseView.stop_day`) are always there.
Their JSON goes through the researcher's allow-list in `ldn_derm.registry.research`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry import research
from ldn_derm.registry.vocab import Measure


def condition_name(condition_id: str) -> str:
    """The knowledge base's name for a condition id (the id itself if the base no longer has it)."""
    cond = get_knowledge().conditions.get(condition_id)
    return cond.name if cond else condition_id


@dataclass(frozen=True)
class IdentityView:
    given_name: str
    family_name: str
    birth_date: date
    source_system: str | None
    source_id: str | None

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"


@dataclass(frozen=True)
class SideEffectView:
    effect: str
    severity: str
    detail: str | None = None  # free text: identified access only


@dataclass(frozen=True)
class VisitView:
    id: int
    day: int  # days since the course start (negative for a baseline before it)
    visit_date: date | None  # identified access only
    dose_mg: float
    dose_time: str
    measures: dict[Measure, float]
    investigator_global_scale: str | None
    adherence: str | None
    side_effects: tuple[SideEffectView, ...]
    notes: str | None
    version: int
    client_token: str | None = None
    pseudonymised: bool = False

    def value(self, measure: Measure) -> float | None:
        return self.measures.get(measure)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("pseudonymised")
        data["visit_date"] = self.visit_date.isoformat() if self.visit_date else None
        data["measures"] = {m.value: v for m, v in self.measures.items()}
        if self.pseudonymised:
            data = research.only(data, research.VISIT_FIELDS)
            data["side_effects"] = [
                research.only(e, research.SIDE_EFFECT_FIELDS) for e in data["side_effects"]
            ]
        return data


@dataclass(frozen=True)
class CourseView:
    id: int
    patient: str  # pseudonym
    clinic_id: int
    condition_id: str
    condition_name: str
    primary_measure: Measure
    regimen: dict[str, Any]
    start_date: date | None  # identified access only
    stop_date: date | None  # identified access only
    stop_day: int | None  # days from the start to the stop; None while the course runs
    stop_reason: str | None
    stop_detail: str | None
    notes: str | None
    version: int
    visits: tuple[VisitView, ...] = ()
    # pseudonymised descriptors for cohort analysis
    sex: str | None = None
    age_band: str | None = None
    # "Family, Given" for identified access only: the page shows whose record is open
    patient_name: str | None = None
    pseudonymised: bool = False

    @property
    def last_visit(self) -> VisitView | None:
        return self.visits[-1] if self.visits else None

    @property
    def stopped(self) -> bool:
        return self.stop_day is not None

    def as_json(self, with_visits: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "patient": self.patient,
            "clinic_id": self.clinic_id,
            "condition_id": self.condition_id,
            "condition_name": self.condition_name,
            "primary_measure": self.primary_measure.value,
            "regimen": self.regimen,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "stop_date": self.stop_date.isoformat() if self.stop_date else None,
            "stop_day": self.stop_day,
            "stop_reason": self.stop_reason,
            "stop_detail": self.stop_detail,
            "notes": self.notes,
            "version": self.version,
        }
        if with_visits:
            data["visits"] = [v.as_json() for v in self.visits]
        if self.pseudonymised:
            data = research.only(data, research.COURSE_FIELDS)
            data["regimen"] = research.regimen(self.regimen)
            data["sex"], data["age_band"] = self.sex, self.age_band
            data["pseudonymised"] = True
        return data


@dataclass(frozen=True)
class PatientView:
    pseudonym: str
    clinic_id: int
    clinic_name: str
    sex: str
    version: int
    identity: IdentityView | None
    courses: tuple[CourseView, ...] = field(default_factory=tuple)
    pseudonymised: bool = False

    def as_json(self) -> dict[str, Any]:
        if self.pseudonymised:
            return research.only(
                {
                    "id": self.pseudonym,
                    "clinic_id": self.clinic_id,
                    "sex": self.sex,
                    "courses": [c.as_json(with_visits=False) for c in self.courses],
                    "pseudonymised": True,
                },
                research.PATIENT_FIELDS,
            )
        ident = self.identity
        return {
            "id": self.pseudonym,
            "clinic": self.clinic_name,
            "sex": self.sex,
            "version": self.version,
            "identity": None
            if ident is None
            else {
                "given_name": ident.given_name,
                "family_name": ident.family_name,
                "birth_date": ident.birth_date.isoformat(),
                "source_system": ident.source_system,
                "source_id": ident.source_id,
            },
            "courses": [c.as_json(with_visits=False) for c in self.courses],
        }
