"""A decision turned into a complete prescription package (pure: no files are written here).

`build_prescription` ties together the regimen, the compounding plan, the FHIR
MedicationRequest, the monitoring plan and (when a patient record is given) the assessment,
whose contraindications block the prescription unless an override reason is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import BlockedError, InputError
from ldn_derm.knowledge.citations import Citations, reference_line
from ldn_derm.regimen.compounding import CompoundingPlan, Form, SaltBasis, compound
from ldn_derm.regimen.dose import fmt_mg
from ldn_derm.regimen.fhir import build_medication_request, medication_text
from ldn_derm.regimen.monitoring import MonitoringPlan, build_monitoring_plan

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.models import Condition
    from ldn_derm.regimen.schedule import Regimen


@dataclass(frozen=True)
class Blocker:
    """A contraindication found by the assessment (code, summary, what triggered it)."""

    code: str
    summary: str
    triggered_by: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatientContext:
    """What the prescription needs to know about the patient (from the assessment)."""

    reference: str | None = None  # e.g. "Patient/123"
    display: str | None = None
    blockers: tuple[Blocker, ...] = ()
    cautions: tuple[str, ...] = ()
    thyroid_disease: bool | None = None
    # medicines the safety screen could not identify (the screen is incomplete while any remain)
    unchecked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prescription:
    condition: Condition
    regimen: Regimen
    compounding: CompoundingPlan
    monitoring: MonitoringPlan
    medication_request: dict[str, Any]
    text: str
    authored_on: date
    patient: PatientContext | None = None
    override_reason: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def schedule(self) -> dict[str, Any]:
        """schedule.json: the regimen plus the compounding figures."""
        data = self.regimen.to_dict()
        data["condition"] = self.condition.id
        data["compounding"] = self.compounding.to_dict()
        return data

    def summary(self) -> str:
        steps = " → ".join(f"{fmt_mg(s.dose_mg)} mg" for s in self.regimen.steps)
        if self.compounding.form is Form.CAPSULE:
            supply = f"{self.compounding.total_capsules} capsules"
        else:
            supply = f"{fmt_mg(self.compounding.total_volume_ml)} mL"
        return (
            f"{medication_text(self.compounding, self.regimen)}: {steps} "
            f"{self.regimen.time.phrase}, {self.regimen.days} days, dispense {supply}"
        )


def build_prescription(
    condition: str,
    regimen: Regimen,
    form: Form | str,
    *,
    salt: SaltBasis | str = SaltBasis.HCL,
    filler: str | None = None,
    concentration: str | Decimal | None = None,
    syringe_graduation_ml: str | Decimal | None = None,
    authored_on: date | None = None,
    patient: PatientContext | None = None,
    override_reason: str | None = None,
    kb: KnowledgeBase | None = None,
) -> Prescription:
    """Build the whole package, or raise BlockedError if the patient has a contraindication.

    `regimen.start_date` defaults to `authored_on` (itself today's date by default).
    """
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    cond = kb.find_condition(condition)
    authored = authored_on or date.today()
    if regimen.start_date is None:
        from dataclasses import replace

        regimen = replace(regimen, start_date=authored)
    reason = (override_reason or "").strip() or None
    if override_reason is not None and reason is None:
        raise InputError("an override needs a reason in words")
    if patient and patient.blockers and reason is None:
        first = patient.blockers[0]
        more = f" (and {len(patient.blockers) - 1} more)" if len(patient.blockers) > 1 else ""
        why = f"; triggered by {', '.join(first.triggered_by)}" if first.triggered_by else ""
        raise BlockedError(
            f"prescription blocked: {first.summary}{why}{more}. "
            "Override only with a recorded reason"
        )
    kwargs: dict[str, Any] = {}
    if filler is not None:
        kwargs["filler"] = filler
    plan = compound(
        regimen,
        form,
        salt=salt,
        concentration=concentration,
        syringe_graduation_ml=syringe_graduation_ml,
        kb=kb,
        **kwargs,
    )
    thyroid = patient.thyroid_disease if patient else None
    monitoring = build_monitoring_plan(cond.id, regimen, thyroid_disease=thyroid, kb=kb)

    warnings: list[str] = list(regimen.notes)
    if regimen.standard_dose_allowed and regimen.target_mg > Decimal(
        str(kb.drug.canonical_low_dose.high)
    ):
        warnings.append(
            f"Doses above {kb.drug.canonical_low_dose.label()} were explicitly allowed: this is "
            "not low-dose naltrexone."
        )
    if patient:
        warnings.extend(patient.cautions)
    notes = _notes(plan, regimen, reason, patient)
    request = build_medication_request(
        regimen,
        plan,
        cond,
        authored_on=authored,
        notes=notes,
        patient_reference=patient.reference if patient else None,
        patient_display=patient.display if patient else None,
        kb=kb,
    )
    text = _text(cond, regimen, plan, authored, patient, reason, warnings, kb)
    return Prescription(
        condition=cond,
        regimen=regimen,
        compounding=plan,
        monitoring=monitoring,
        medication_request=request,
        text=text,
        authored_on=authored,
        patient=patient,
        override_reason=reason,
        warnings=tuple(warnings),
    )


def _notes(
    plan: CompoundingPlan, regimen: Regimen, reason: str | None, patient: PatientContext | None
) -> list[str]:
    notes = ["Compounding: " + " ".join(plan.instructions), "Dose basis: " + plan.salt_statement]
    notes.append("Beyond-use date: " + " ".join(s.text for s in plan.stability))
    if plan.assumptions or regimen.assumptions:
        notes.append("Assumptions: " + " ".join((*regimen.assumptions, *plan.assumptions)))
    notes.append("Off-label use of naltrexone at low dose; compounded product.")
    notes.append(" ".join(screen_lines(patient)).replace("Screen:      ", "Safety screen: "))
    if reason and patient and patient.blockers:
        listed = "; ".join(b.summary for b in patient.blockers)
        notes.append(f"Contraindication overridden by the prescriber ({listed}). Reason: {reason}")
    return notes


def screen_lines(patient: PatientContext | None) -> list[str]:
    """What the safety screen covered, said on the prescription itself (never silent)."""
    if patient is None:
        return [
            "Screen:      NOT DONE — no patient record was screened: opioids, other naltrexone "
            "products, interacting drugs and contraindications were not checked."
        ]
    if patient.unchecked:
        return [
            f"Screen:      INCOMPLETE — {len(patient.unchecked)} medicine(s) in the record could "
            "not be identified; check each for an opioid, another naltrexone product or an "
            "interacting drug:",
            *(f"               - {name}" for name in patient.unchecked),
        ]
    return ["Screen:      the patient record was screened (cautions under Notes)."]


def _step_line(regimen: Regimen, plan: CompoundingPlan, i: int) -> str:
    step = regimen.steps[i]
    dates = regimen.step_dates(step)
    when = f" ({dates[0].isoformat()} to {dates[1].isoformat()})" if dates else ""
    if plan.form is Form.CAPSULE:
        how = f"take ONE {fmt_mg(step.dose_mg)} mg capsule"
    else:
        line = plan.liquid[i]
        how = f"take {fmt_mg(line.volume_ml)} mL ({fmt_mg(line.delivered_mg)} mg)"
    return (
        f"  Days {step.start_day}-{step.end_day}{when}: {how} by mouth once daily "
        f"{regimen.time.phrase}"
    )


def _text(
    cond: Condition,
    regimen: Regimen,
    plan: CompoundingPlan,
    authored: date,
    patient: PatientContext | None,
    reason: str | None,
    warnings: list[str],
    kb: KnowledgeBase,
) -> str:
    citations = Citations()
    cite = citations.mark

    who = (patient.display or patient.reference) if patient else None
    lines = [
        "PRESCRIPTION: low-dose naltrexone (LDN), compounded — DRAFT, to be checked and signed",
        "",
        f"Date:        {authored.isoformat()}",
        f"Patient:     {who or '________________________'}",
        f"Indication:  {cond.name} (off-label use)",
        *screen_lines(patient),
        "",
        f"Rx:  {medication_text(plan, regimen)}",
        "Sig:",
        *(_step_line(regimen, plan, i) for i in range(len(regimen.steps))),
    ]
    if plan.form is Form.CAPSULE:
        parts = "; ".join(f"{fmt_mg(c.strength_mg)} mg × {c.count}" for c in plan.capsules)
        lines.append(
            f"Dispense:    {parts} (total {plan.total_capsules} capsules) = "
            f"{regimen.days}-day supply. No refills."
        )
    else:
        lines.append(
            f"Dispense:    {fmt_mg(plan.total_volume_ml)} mL of "
            f"{fmt_mg(plan.concentration_mg_per_ml or Decimal(0))} mg/mL = {regimen.days}-day "
            "supply, with an oral syringe. No refills."
        )
    c = kb.protocols.compounding
    lines += ["", "Dose basis:", f"  {plan.salt_statement}{cite(c.molar_mass_refs)}"]
    lines += ["", f"Compounding instructions:{cite(plan.instruction_refs)}"]
    lines += [f"  - {i}" for i in plan.instructions]
    lines += ["", "Beyond-use date:"]
    lines += [f"  - {s.text}{cite(s.refs)}" for s in plan.stability]
    if regimen.protocol_name:
        lines += ["", f"Protocol:    {regimen.protocol_name}{cite(regimen.refs)}"]
    assumptions = (*regimen.assumptions, *plan.assumptions)
    if assumptions:
        lines += ["", "Assumptions (check them):"]
        lines += [
            f"  - {a}{cite(regimen.assumption_refs(a) or plan.assumption_refs(a))}"
            for a in assumptions
        ]
    if warnings:
        lines += ["", "Notes:"]
        lines += [f"  - {w}" for w in warnings]
    if reason and patient and patient.blockers:
        lines += ["", "CONTRAINDICATION OVERRIDDEN BY THE PRESCRIBER:"]
        lines += [f"  - {b.summary}{cite(b.refs)}" for b in patient.blockers]
        lines.append(f"  Reason recorded: {reason}")
    lines += [
        "",
        "Monitoring: see monitoring.md (side effects, TSH, opioids, response, stopping).",
        "",
        "Prescriber: ________________________   Signature: ______________   Licence no.: ________",
    ]
    if citations.order:
        lines += ["", "References:"]
        for n, ref_id in enumerate(citations.order, start=1):
            ref = kb.references[ref_id]
            lines.append(f"  {n}. {reference_line(ref)}")
    return "\n".join(lines) + "\n"
