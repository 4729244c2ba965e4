"""`ldn demo-data`: a synthetic demo clinic to try the registry with. DEMO ONLY.

Everything here is invented: the patients (family name "Demo"), their courses and every score.
The two logins have published passwords (`demo` / `demo-password`, clinician; `researcher` /
`demo-password`, researcher for the demo clinic), so the loader refuses to run on a database that
already holds a real clinic unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from ldn_derm.errors import InputError, UnknownConditionError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry import auth
from ldn_derm.registry.db import Database
from ldn_derm.registry.models import Clinic, User
from ldn_derm.registry.service import Registry
from ldn_derm.registry.vocab import Role

DEMO_CLINIC = "Demo Dermatology Clinic (synthetic data)"
DEMO_PASSWORD = "demo-password"
DEMO_USERS = (("demo", Role.CLINICIAN), ("researcher", Role.RESEARCHER))

# Names tried, in order, to find each demo condition in the knowledge base.
CONDITION_QUERIES: dict[str, tuple[str, ...]] = {
    "psoriasis": ("psoriasis",),
    "hhd": ("Hailey-Hailey disease", "hailey-hailey", "benign familial pemphigus"),
    "lpp": ("lichen planopilaris", "lpp"),
    "pruritus": ("chronic pruritus", "pruritus", "cholestatic pruritus", "aquagenic pruritus"),
}


@dataclass(frozen=True)
class DemoVisit:
    day: int
    dose: float
    time: str = "bedtime"
    measures: tuple[tuple[str, float], ...] = ()
    effects: tuple[tuple[str, str], ...] = ()
    adherence: str = "all"


@dataclass(frozen=True)
class DemoCourse:
    given: str
    born: date
    sex: str
    condition: str  # key of CONDITION_QUERIES
    started_days_ago: int
    target: float
    visits: tuple[DemoVisit, ...]
    stop: tuple[int, str] | None = None  # (day, reason)


def _v(day: int, dose: float, *measures: tuple[str, float], **kw: Any) -> DemoVisit:
    return DemoVisit(day, dose, measures=measures, **kw)


DREAMS = (("vivid-dreams", "mild"),)
COURSES: tuple[DemoCourse, ...] = (
    DemoCourse("Avery", date(1971, 3, 14), "female", "psoriasis", 190, 4.5, (
        _v(0, 1.5, ("pasi", 12.4), ("bsa_percent", 14), ("itch_nrs", 6), ("dlqi", 11)),
        _v(28, 3.0, ("pasi", 10.6), ("bsa_percent", 12), ("itch_nrs", 5), ("dlqi", 9)),
        _v(56, 4.5, ("pasi", 7.1), ("bsa_percent", 9), ("itch_nrs", 3), ("dlqi", 6)),
        _v(84, 4.5, ("pasi", 5.9), ("bsa_percent", 6), ("itch_nrs", 2), ("dlqi", 4)),
        _v(140, 4.5, ("pasi", 3.8), ("bsa_percent", 4), ("itch_nrs", 1), ("dlqi", 2)),
    )),
    DemoCourse("Blake", date(1964, 9, 2), "male", "psoriasis", 170, 4.5, (
        _v(0, 1.5, ("pasi", 9.2), ("bsa_percent", 10)),
        _v(28, 3.0, ("pasi", 8.8), ("bsa_percent", 10), effects=DREAMS),
        _v(56, 4.5, ("pasi", 8.1), ("bsa_percent", 9), time="morning"),
        _v(112, 4.5, ("pasi", 7.6), ("bsa_percent", 9), time="morning", adherence="most"),
    )),
    DemoCourse("Casey", date(1988, 1, 23), "female", "psoriasis", 120, 4.5, (
        _v(0, 1.5, ("pasi", 7.5), ("itch_nrs", 5)),
        _v(21, 3.0, ("pasi", 7.0), ("itch_nrs", 5),
           effects=(("headache", "moderate"), ("insomnia", "moderate"))),
        _v(42, 3.0, ("pasi", 7.2), ("itch_nrs", 5), effects=(("headache", "moderate"),),
           adherence="some"),
    ), stop=(42, "side-effects")),
    DemoCourse("Devon", date(1959, 6, 30), "male", "hhd", 200, 4.5, (
        _v(0, 4.5, ("investigator_global", 3), ("itch_nrs", 7), ("dlqi", 15)),
        _v(30, 4.5, ("investigator_global", 3), ("itch_nrs", 5), ("dlqi", 12)),
        _v(60, 4.5, ("investigator_global", 2), ("itch_nrs", 4), ("dlqi", 8)),
        _v(90, 4.5, ("investigator_global", 1), ("itch_nrs", 3), ("dlqi", 5)),
    )),
    DemoCourse("Emery", date(1976, 11, 5), "female", "hhd", 110, 4.5, (
        _v(0, 1.5, ("investigator_global", 3), ("itch_nrs", 6)),
        _v(35, 4.5, ("investigator_global", 2), ("itch_nrs", 5), effects=DREAMS),
        _v(77, 4.5, ("investigator_global", 2), ("itch_nrs", 4), effects=DREAMS),
    )),
    DemoCourse("Finley", date(1966, 4, 18), "female", "lpp", 230, 3.0, (
        _v(0, 3.0, ("lppai", 6.1), ("itch_nrs", 6)),
        _v(42, 3.0, ("lppai", 4.6), ("itch_nrs", 4)),
        _v(98, 3.0, ("lppai", 2.8), ("itch_nrs", 2)),
        _v(182, 3.0, ("lppai", 2.1), ("itch_nrs", 1)),
    )),
    DemoCourse("Harper", date(1958, 8, 9), "female", "lpp", 160, 3.0, (
        _v(0, 3.0, ("lppai", 4.2), ("itch_nrs", 5), effects=DREAMS),
        _v(42, 3.0, ("lppai", 3.9), ("itch_nrs", 4), time="morning"),
        _v(98, 3.0, ("lppai", 3.6), ("itch_nrs", 4), time="morning"),
    )),
    DemoCourse("Jules", date(1949, 2, 27), "male", "pruritus", 150, 4.5, (
        _v(0, 1.5, ("itch_nrs", 8), ("dlqi", 14)),
        _v(28, 3.0, ("itch_nrs", 6), ("dlqi", 11), effects=DREAMS),
        _v(56, 4.5, ("itch_nrs", 3), ("dlqi", 6), effects=DREAMS),
        _v(112, 4.5, ("itch_nrs", 2), ("dlqi", 4)),
    )),
    DemoCourse("Kai", date(1983, 7, 12), "male", "pruritus", 100, 1.5, (
        _v(0, 1.5, ("itch_nrs", 7)),
        _v(21, 1.5, ("itch_nrs", 3)),
        _v(63, 1.5, ("itch_nrs", 2)),
    )),
    DemoCourse("Logan", date(1954, 12, 1), "female", "pruritus", 140, 4.5, (
        _v(0, 1.5, ("itch_nrs", 9), ("dlqi", 18)),
        _v(28, 4.5, ("itch_nrs", 8), ("dlqi", 17)),
        _v(70, 4.5, ("itch_nrs", 7), ("dlqi", 16), adherence="most"),
    ), stop=(70, "no-response")),
    DemoCourse("Morgan", date(1992, 5, 19), "female", "psoriasis", 6, 4.5, (
        _v(0, 1.5, ("pasi", 8.4), ("bsa_percent", 8), ("itch_nrs", 4)),
    )),
)  # fmt: skip


@dataclass(frozen=True)
class DemoResult:
    created: bool
    patients: int
    courses: int
    visits: int
    skipped_conditions: tuple[str, ...]
    message: str


def _resolve_conditions() -> tuple[dict[str, str], list[str]]:
    kb = get_knowledge()
    found: dict[str, str] = {}
    missing = []
    for key, queries in CONDITION_QUERIES.items():
        for q in queries:
            try:
                found[key] = kb.find_condition(q).id
                break
            except UnknownConditionError:
                continue
        else:
            missing.append(key)
    return found, missing


def load_demo(db: Database, force: bool = False, today: date | None = None) -> DemoResult:
    """Create the demo clinic, its two logins and the synthetic patients (once)."""
    today = today or date.today()
    with db.transaction() as s:
        clinics = list(s.scalars(select(Clinic)))
        if any(c.name == DEMO_CLINIC for c in clinics):
            return DemoResult(False, 0, 0, 0, (), "the demo clinic is already loaded")
        real = [c.name for c in clinics if not c.demo]
        if real and not force:
            raise InputError(
                "this database already holds real clinics ("
                + ", ".join(real)
                + "); demo accounts with published passwords do not belong there. "
                "Use a separate database, or pass --force if you really mean it"
            )
        taken = set(
            s.scalars(select(User.username).where(User.username.in_(["demo", "researcher"])))
        )
        if taken:
            raise InputError(f"user names {sorted(taken)} are already taken")
        clinic = auth.get_or_create_clinic(s, DEMO_CLINIC, demo=True)
        clinic_id = clinic.id
    users = {
        name: auth.create_user(
            db,
            {"username": name, "password": DEMO_PASSWORD, "role": role, "clinic": DEMO_CLINIC},
            actor=None,
        )
        for name, role in DEMO_USERS
    }
    registry = Registry(db, users["demo"].actor(ip="demo-loader"))
    conditions, missing = _resolve_conditions()
    patients = courses = visits = 0
    for spec in COURSES:
        if spec.condition not in conditions:
            continue
        patient = registry.create_patient(
            {
                "given_name": spec.given,
                "family_name": "Demo",
                "birth_date": spec.born,
                "sex": spec.sex,
                "source_system": "synthetic-demo",
                "source_id": spec.given.lower(),
            }
        )
        patients += 1
        start = today - timedelta(days=spec.started_days_ago)
        course = registry.create_course(
            patient.pseudonym,
            {
                "condition_id": conditions[spec.condition],
                "start_date": start,
                "regimen": {
                    "start_dose_mg": spec.visits[0].dose,
                    "target_dose_mg": spec.target,
                    "time_of_day": "bedtime",
                    "source": "demo",
                    "note": "synthetic demo regimen",
                },
            },
        )
        courses += 1
        for v in spec.visits:
            data: dict[str, Any] = {
                "visit_date": start + timedelta(days=v.day),
                "dose_mg": v.dose,
                "dose_time": v.time,
                "adherence": v.adherence,
                "side_effects": [{"effect": e, "severity": sev} for e, sev in v.effects],
                **dict(v.measures),
            }
            if "investigator_global" in data:
                data["investigator_global_scale"] = "iga"
            registry.add_visit(course.id, data)
            visits += 1
        if spec.stop:
            day, reason = spec.stop
            registry.update_course(
                course.id,
                {
                    "version": course.version,
                    "stop_date": start + timedelta(days=day),
                    "stop_reason": reason,
                },
            )
    note = ""
    if missing:
        note = " (not in the knowledge base, skipped: " + ", ".join(missing) + ")"
    return DemoResult(
        True,
        patients,
        courses,
        visits,
        tuple(missing),
        f"demo clinic '{DEMO_CLINIC}' (id {clinic_id}) loaded{note}",
    )
