"""SQLAlchemy 2 models of the outcome registry.

Privacy by layout: `patients` holds only a random pseudonym, the clinic and sex; names and the
birth date live in `patient_identities`, read only for roles allowed to see them. Free-text notes
are never part of pseudonymised output.

Concurrency: patients, courses and visits carry a `version` column (SQLAlchemy's
`version_id_col`): every UPDATE says `WHERE version = <the version read>`, so a concurrent
writer's change is never silently overwritten; the loser gets a ConflictError.

Every change to this file needs a migration in migrations/versions (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('clinician', 'researcher', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    clinic: Mapped[Clinic | None] = relationship()


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name="sex"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(16), unique=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    sex: Mapped[str] = mapped_column(String(10), default="unknown")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    clinic: Mapped[Clinic] = relationship()
    identity: Mapped[PatientIdentity | None] = relationship(
        back_populates="patient", uselist=False, cascade="all, delete-orphan"
    )
    courses: Mapped[list[Course]] = relationship(
        back_populates="patient", order_by="Course.start_date", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PatientIdentity(Base):
    """The identifying part of a patient record, kept apart from the pseudonymous data."""

    __tablename__ = "patient_identities"
    __table_args__ = (UniqueConstraint("clinic_id", "source_system", "source_id"),)

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    source_system: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[str | None] = mapped_column(String(200))

    patient: Mapped[Patient] = relationship(back_populates="identity")

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"


class Course(Base):
    """One treatment course of LDN for one condition."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("stop_date IS NULL OR stop_date >= start_date", name="stop_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    condition_id: Mapped[str] = mapped_column(String(64), index=True)
    primary_measure: Mapped[str] = mapped_column(String(32))
    regimen: Mapped[dict[str, Any]] = mapped_column(JSON)
    start_date: Mapped[date] = mapped_column(Date)
    stop_date: Mapped[date | None] = mapped_column(Date)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    stop_detail: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    patient: Mapped[Patient] = relationship(back_populates="courses")
    visits: Mapped[list[Visit]] = relationship(
        back_populates="course",
        order_by="(Visit.visit_date, Visit.id)",
        cascade="all, delete-orphan",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("course_id", "client_token"),
        CheckConstraint("dose_mg >= 0 AND dose_mg <= 100", name="dose_mg"),
        CheckConstraint("dose_time IN ('morning', 'bedtime')", name="dose_time"),
        CheckConstraint("itch_nrs IS NULL OR (itch_nrs >= 0 AND itch_nrs <= 10)", name="itch_nrs"),
        CheckConstraint("pasi IS NULL OR (pasi >= 0 AND pasi <= 72)", name="pasi"),
        CheckConstraint(
            "bsa_percent IS NULL OR (bsa_percent >= 0 AND bsa_percent <= 100)", name="bsa"
        ),
        CheckConstraint("dlqi IS NULL OR (dlqi >= 0 AND dlqi <= 30)", name="dlqi"),
        CheckConstraint("lppai IS NULL OR (lppai >= 0 AND lppai <= 10)", name="lppai"),
        CheckConstraint(
            "investigator_global IS NULL OR "
            "(investigator_global >= 0 AND investigator_global <= 4 "
            "AND investigator_global_scale IS NOT NULL)",
            name="investigator_global",
        ),
        Index("ix_visits_course_date", "course_id", "visit_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    visit_date: Mapped[date] = mapped_column(Date)
    dose_mg: Mapped[float] = mapped_column(Float)
    dose_time: Mapped[str] = mapped_column(String(10))
    itch_nrs: Mapped[float | None] = mapped_column(Float)
    pasi: Mapped[float | None] = mapped_column(Float)
    bsa_percent: Mapped[float | None] = mapped_column(Float)
    dlqi: Mapped[float | None] = mapped_column(Float)
    lppai: Mapped[float | None] = mapped_column(Float)
    investigator_global: Mapped[float | None] = mapped_column(Float)
    investigator_global_scale: Mapped[str | None] = mapped_column(String(10))
    adherence: Mapped[str | None] = mapped_column(String(10))
    notes: Mapped[str | None] = mapped_column(Text)
    client_token: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    course: Mapped[Course] = relationship(back_populates="visits")
    side_effects: Mapped[list[VisitSideEffect]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="VisitSideEffect.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class VisitSideEffect(Base):
    __tablename__ = "visit_side_effects"
    __table_args__ = (
        UniqueConstraint("visit_id", "effect"),
        CheckConstraint("severity IN ('mild', 'moderate', 'severe')", name="severity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    effect: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(String(200))

    visit: Mapped[Visit] = relationship(back_populates="side_effects")


class AuditEvent(Base):
    """Who did what to which record, when and from where. Never holds names or notes."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: survives account removal
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    patient_pseudonym: Mapped[str | None] = mapped_column(String(16), index=True)
    clinic_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LoginAttempt(Base):
    """Login attempts per user name and source (the address; an IPv6 client's /64): the rate
    limits count these (all workers)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_key", "username", "ip", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),  # the per-address limit
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(default=False)


class WebSession(Base):
    """A server-side login session; the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


# ------------------------------------------------------------------ CDS Hooks tables
# Feedback from EHRs and the JWT `jti` replay cache (used by ldn_derm.web.cds.store). They live
# in the same database and under the same migrations as the registry, so every worker and host
# sees the same replay cache. Plain Core tables: the CDS hot path uses no ORM.

cds_feedback = Table(
    "cds_feedback",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(100), nullable=False, index=True),
    Column("card_uuid", String(100), nullable=False, index=True),
    Column("outcome", String(20), nullable=False),
    Column("accepted_suggestions", Text, nullable=True),  # JSON list of suggestion uuids
    Column("override_reason_system", String(300), nullable=True),
    Column("override_reason_code", String(100), nullable=True),
    Column("override_reason_display", String(300), nullable=True),
    Column("user_comment", Text, nullable=True),
    Column("outcome_timestamp", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("issuer", String(300), nullable=True),
)

cds_jwt_replay = Table(
    "cds_jwt_replay",
    Base.metadata,
    # iss + jti, hashed (128 bits): jti values are nonces, but we keep no token material anyway.
    # No index on expires_at: every insert would write it; the purge scans once a minute.
    Column("token_key", String(32), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

CDS_TABLES = ("cds_feedback", "cds_jwt_replay")

# Server-side SMART App Launch sessions (used by ldn_derm.web.smart.store).
smart_sessions = Table(
    "smart_sessions",
    Base.metadata,
    Column("key", String(64), primary_key=True),  # sha256 of the cookie value
    Column("expires_at", BigInteger, nullable=False),
    Column("data", Text, nullable=False),  # JSON
)
PATIENT_TABLES = ("patients", "patient_identities", "courses", "visits", "visit_side_effects")
