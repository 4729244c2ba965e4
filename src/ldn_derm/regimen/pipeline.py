"""The one prescribe pipeline: a request (what the prescriber asked for) and the patient (from
the assessment) in, a checked `Prescription` out, or the refusal that names what blocks it.

The CLI (`ldn prescribe`, `ldn handout`), the REST API, the web pages and the SMART launch all
call `prescribe`, so the same block-or-override decision is made everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ldn_derm.regimen.overrides import Override, OverrideOption, collect

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.regimen.prescription import PatientContext, Prescription

DoseInput = str | int | float | Decimal | None


@dataclass(frozen=True)
class PrescriptionRequest:
    """What the prescriber asked for. Doses are mg (numbers) or text with a unit."""

    condition: str
    target_mg: DoseInput = None
    start_mg: DoseInput = None
    step_mg: DoseInput = None
    interval_days: int | None = None
    days: int = 90
    time: str | None = None
    preset: str | None = None
    form: str = "capsule"
    salt: str = "hcl"
    concentration: str | None = None
    syringe_graduation_ml: str | None = None
    filler: str | None = None
    storage: str | None = None
    start_date: date | None = None
    allow_standard_dose: bool = False
    override_reason: str | None = None  # shorthand for the contraindication override
    overrides: Sequence[Override] | Mapping[str, str] = field(default_factory=tuple)


def prescribe(
    request: PrescriptionRequest,
    patient: PatientContext | None = None,
    kb: KnowledgeBase | None = None,
) -> Prescription:
    """Build the regimen and the prescription; refusals are `LdnError`s naming the check and
    the override option that would lift it (with a reason)."""
    from ldn_derm.regimen.prescription import build_prescription
    from ldn_derm.regimen.schedule import build_regimen

    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    given = collect(request.overrides, kb)  # reasons checked before anything is built
    regimen = build_regimen(
        target_mg=request.target_mg,
        start_mg=request.start_mg,
        step_mg=request.step_mg,
        interval_days=request.interval_days,
        days=request.days,
        time=request.time,
        preset=request.preset,
        start_date=request.start_date,
        allow_standard_dose=request.allow_standard_dose,
        allow_above_low_dose=OverrideOption.ABOVE_LOW_DOSE in given,
        kb=kb,
    )
    return build_prescription(
        request.condition,
        regimen,
        request.form,
        salt=request.salt,
        filler=request.filler,
        concentration=request.concentration,
        syringe_graduation_ml=request.syringe_graduation_ml,
        storage=request.storage,
        authored_on=request.start_date,
        patient=patient,
        override_reason=request.override_reason,
        overrides=list(given.values()),
        kb=kb,
    )
