"""The audit trail: who read or wrote which patient record, when, and from where.

Records name the patient only by pseudonym and never contain names, birth dates or notes, so the
audit table (and anything printed from it) holds no identifying data. A write's audit record is
part of the write's own transaction; a refused access is recorded in a transaction of its own so
that it survives the request failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ldn_derm.registry.models import AuditEvent
from ldn_derm.registry.vocab import Role


@dataclass(frozen=True)
class Actor:
    """The person (or the command line) acting on the registry, and where the request came from."""

    user_id: int | None
    username: str
    role: Role
    clinic_id: int | None
    ip: str | None = None
    user_agent: str | None = None

    @property
    def identified_access(self) -> bool:
        """May see names and birth dates (clinicians, for their own clinic)."""
        return self.role is Role.CLINICIAN


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | int | None = None,
    patient: str | None = None,
    clinic_id: int | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    username: str | None = None,
    ip: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            user_id=actor.user_id if actor else None,
            username=actor.username if actor else username,
            role=actor.role.value if actor else None,
            action=action,
            outcome=outcome,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            patient_pseudonym=patient,
            clinic_id=clinic_id if clinic_id is not None else (actor.clinic_id if actor else None),
            ip=(actor.ip if actor else ip),
            user_agent=(actor.user_agent[:200] if actor and actor.user_agent else None),
            detail=detail,
        )
    )


@dataclass(frozen=True)
class AuditRow:
    at: str
    username: str | None
    role: str | None
    action: str
    outcome: str
    object: str
    patient: str | None
    ip: str | None


def recent(session: Session, limit: int = 200) -> list[AuditRow]:
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    return [
        AuditRow(
            at=e.at.isoformat(timespec="seconds"),
            username=e.username,
            role=e.role,
            action=e.action,
            outcome=e.outcome,
            object=f"{e.object_type or ''} {e.object_id or ''}".strip(),
            patient=e.patient_pseudonym,
            ip=e.ip,
        )
        for e in rows
    ]
