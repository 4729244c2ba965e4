"""The patient banner: who this assessment is about, from the EHR's Patient resource."""

from __future__ import annotations

from datetime import date
from typing import Any


def _name(patient: dict[str, Any]) -> str:
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    names.sort(key=lambda n: n.get("use") != "official")
    for n in names:
        if n.get("text"):
            return str(n["text"])
        given = " ".join(str(g) for g in n.get("given") or [])
        family = str(n.get("family") or "")
        full = f"{given} {family}".strip()
        if full:
            return full
    return "Name not recorded"


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def patient_banner(patient: dict[str, Any], today: date) -> dict[str, Any]:
    """Name, birth date and age, sex and deceased status, as display strings."""
    birth = patient.get("birthDate")
    born = None
    if isinstance(birth, str):
        try:
            born = date.fromisoformat(birth[:10])
        except ValueError:
            born = None
    deceased: str | None = None
    when = patient.get("deceasedDateTime")
    if isinstance(when, str) and when:
        deceased = f"Deceased {when[:10]}"
    elif patient.get("deceasedBoolean") is True:
        deceased = "Deceased"
    end = date.fromisoformat(deceased[9:19]) if deceased and len(deceased) > 9 else today
    if born is not None:
        age = _age(born, end) if end >= born else None
        birth_text = f"born {born.isoformat()}" + (
            f" ({age} years{' at death' if deceased else ''})" if age is not None else ""
        )
    else:
        birth_text = "birth date not recorded"
    sex = str(patient.get("gender") or "sex not recorded")
    return {
        "name": _name(patient),
        "birth": birth_text,
        "sex": sex,
        "deceased": deceased,
        "id": str(patient.get("id") or ""),
    }
