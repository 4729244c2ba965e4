"""A decision turned into a complete prescription package (pure: no files are written here).

`build_prescription` ties together the regimen, the compounding plan, the FHIR
MedicationRequest, the monitoring plan and (when a patient record is given) the assessment,
whose contraindications block the prescription unless an override reason is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import BlockedError, InputError, LdnError
from ldn_derm.knowledge.citations import Citations, reference_line
from ldn_derm.regimen.checks import (
    EvidenceStatus,
    OpioidWindow,
    RecentOpioid,
    evidence_status,
    opioid_window,
)
from ldn_derm.regimen.compounding import CompoundingPlan, Form, SaltBasis, Storage, compound
from ldn_derm.regimen.dose import fmt_mg
from ldn_derm.regimen.fhir import build_medication_request, medication_text
from ldn_derm.regimen.monitoring import MonitoringPlan, build_monitoring_plan
from ldn_derm.regimen.overrides import Override, OverrideOption, collect, option_text

if TYPE_CHECKING:
    from ldn_derm.assess.models import ComparatorResult
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
    recent_opioids: tuple[RecentOpioid, ...] = ()  # from the `opioid-recent` finding
    # medicines the safety screen could not identify (the screen is incomplete while any remain)
    unchecked: tuple[str, ...] = ()
    # the assessment's comparison rows (LDN first): the handout's option grid says what the
    # record means for each option
    comparators: tuple[ComparatorResult, ...] = ()


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
    override_reason: str | None = None  # the contraindication override's reason, if any
    warnings: tuple[str, ...] = field(default=())
    overrides: tuple[Override, ...] = ()
    evidence: EvidenceStatus | None = None
    opioid_window: OpioidWindow | None = None  # overridden: the start is inside the window

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
        if len(self.compounding.fills) > 1:
            supply += f" in {len(self.compounding.fills)} fills"
        return (
            f"{medication_text(self.compounding, self.regimen)}: {steps} "
            f"{self.regimen.time.phrase}, {self.regimen.days} days, dispense {supply}"
        )


def draft_medication_request(
    condition: str,
    regimen: Regimen,
    form: Form | str,
    *,
    authored_on: date,
    kb: KnowledgeBase,
) -> dict[str, Any]:
    """The MedicationRequest `build_prescription` would write, as an unsigned suggestion (a CDS
    card's replacement order). The prescriber's gates (contraindication, opioid-free start,
    dose overrides, evidence acknowledgment) are not run here: they need the prescriber. The
    notes say the evidence status, and that it must be acknowledged when it is not supported.
    """
    cond = kb.find_condition(condition)
    if regimen.start_date is None:
        from dataclasses import replace

        regimen = replace(regimen, start_date=authored_on)
    plan = compound(regimen, form, kb=kb)
    evidence = evidence_status(cond, kb)
    notes = _notes(plan, regimen, (), None, evidence, None, kb)
    if evidence.level.needs_acknowledgment:
        notes.append(
            "Unsigned suggestion: the evidence status above must be acknowledged by the "
            "prescriber (override option 'evidence') before this is prescribed."
        )
    return build_medication_request(
        regimen, plan, cond, authored_on=authored_on, notes=notes, kb=kb
    )


def refusal(blockers: Sequence[Blocker], kb: KnowledgeBase) -> str | None:
    """Why nothing may be prescribed, whatever override is given (protocols.yaml
    `not_overridable`, e.g. a record that says the patient has died), or None."""
    never = {n.code: n.why for n in kb.protocols.overrides.not_overridable}
    for blocker in blockers:
        if blocker.code in never:
            return (
                f"prescription refused: {blocker.summary.rstrip('.')}. {never[blocker.code]} "
                "No override lifts this."
            )
    return None


@dataclass(frozen=True)
class _Need:
    """A check that failed and the override option that would let the prescription go on."""

    option: OverrideOption
    message: str
    error: type[LdnError]


def build_prescription(
    condition: str,
    regimen: Regimen,
    form: Form | str,
    *,
    salt: SaltBasis | str = SaltBasis.HCL,
    filler: str | None = None,
    concentration: str | Decimal | None = None,
    syringe_graduation_ml: str | Decimal | None = None,
    storage: Storage | str | None = None,
    authored_on: date | None = None,
    patient: PatientContext | None = None,
    override_reason: str | None = None,
    overrides: Iterable[Override] | Mapping[str, str] | None = None,
    kb: KnowledgeBase | None = None,
) -> Prescription:
    """Build the whole package, or refuse it.

    Refusals, each lifted only by an override naming its option with a meaningful reason:
    a contraindication in the patient record (`contraindication`; `override_reason` is a
    shorthand for it), a start date inside the opioid-free interval after the last recorded
    opioid (`opioid-free-interval`), a dose above the low-dose range below the standard dose
    (`above-low-dose`), and a condition whose LDN evidence is absent, negative or only at
    higher doses (`evidence`). An override nothing needed is refused too.
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
    assert regimen.start_date is not None
    given = collect(overrides, kb, contraindication_reason=override_reason)

    refused = refusal(patient.blockers if patient else (), kb)
    if refused is not None:
        raise BlockedError(refused)
    evidence = evidence_status(cond, kb)
    window = opioid_window(patient.recent_opioids, regimen.start_date, kb) if patient else None
    needs = _needs(cond.name, regimen, patient, evidence, window, kb)
    for need in needs:
        if need.option not in given:
            raise need.error(
                f"{need.message.rstrip('.')}. Override only with a recorded reason "
                f"(override option '{need.option.value}')"
            )
    unused = [o for o in given if o not in {n.option for n in needs}]
    if unused:
        names = ", ".join(f"'{o.value}'" for o in unused)
        raise InputError(
            f"override {names} given, but nothing in this prescription needs it: remove it"
        )
    recorded = tuple(given[n.option] for n in needs)
    contraindication = given.get(OverrideOption.CONTRAINDICATION)

    kwargs: dict[str, Any] = {}
    if filler is not None:
        kwargs["filler"] = filler
    plan = compound(
        regimen,
        form,
        salt=salt,
        concentration=concentration,
        syringe_graduation_ml=syringe_graduation_ml,
        storage=storage,
        kb=kb,
        **kwargs,
    )
    thyroid = patient.thyroid_disease if patient else None
    monitoring = build_monitoring_plan(cond.id, regimen, thyroid_disease=thyroid, kb=kb)

    warnings: list[tuple[str, tuple[str, ...]]] = [
        (n, regimen.below_range_refs if n.startswith("Titration step(s) below") else ())
        for n in regimen.notes
    ]
    high = Decimal(str(kb.drug.canonical_low_dose.high))
    std_low = Decimal(str(kb.drug.standard_dose.low))
    top = max(s.dose_mg for s in regimen.steps)
    if top >= std_low:
        warnings.append(
            (
                f"The standard dose ({fmt_mg(top)} mg) was explicitly allowed "
                "(allow standard dose): this is not low-dose naltrexone.",
                tuple(kb.drug.standard_dose_refs),
            )
        )
    elif top > high:
        warnings.append(
            (
                f"A dose above {kb.drug.canonical_low_dose.label()} ({fmt_mg(top)} mg) was "
                "explicitly allowed (override 'above-low-dose'): this is not low-dose naltrexone.",
                (),
            )
        )
    if patient:
        warnings.extend((c, ()) for c in patient.cautions)
    notes = _notes(plan, regimen, recorded, patient, evidence, window, kb)
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
    text = _text(cond, regimen, plan, authored, patient, recorded, warnings, evidence, window, kb)
    return Prescription(
        condition=cond,
        regimen=regimen,
        compounding=plan,
        monitoring=monitoring,
        medication_request=request,
        text=text,
        authored_on=authored,
        patient=patient,
        override_reason=contraindication.reason if contraindication else None,
        warnings=tuple(w for w, _ in warnings),
        overrides=recorded,
        evidence=evidence,
        opioid_window=window,
    )


def _needs(
    condition_name: str,
    regimen: Regimen,
    patient: PatientContext | None,
    evidence: EvidenceStatus,
    window: OpioidWindow | None,
    kb: KnowledgeBase,
) -> list[_Need]:
    """Every check this prescription fails, in the order they are reported."""
    needs: list[_Need] = []
    if patient and patient.blockers:
        first = patient.blockers[0]
        more = f" (and {len(patient.blockers) - 1} more)" if len(patient.blockers) > 1 else ""
        why = f"; triggered by {', '.join(first.triggered_by)}" if first.triggered_by else ""
        needs.append(
            _Need(
                OverrideOption.CONTRAINDICATION,
                f"prescription blocked: {first.summary}{why}{more}",
                BlockedError,
            )
        )
    if window is not None:
        needs.append(
            _Need(
                OverrideOption.OPIOID_FREE_INTERVAL,
                f"prescription blocked: {window.message}",
                BlockedError,
            )
        )
    high = Decimal(str(kb.drug.canonical_low_dose.high))
    std_low = Decimal(str(kb.drug.standard_dose.low))
    above = [s.dose_mg for s in regimen.steps if high < s.dose_mg < std_low]
    if above:
        from ldn_derm.errors import DoseError

        listed = ", ".join(f"{fmt_mg(d)} mg" for d in dict.fromkeys(above))
        needs.append(
            _Need(
                OverrideOption.ABOVE_LOW_DOSE,
                f"dose {listed} is above the low-dose range "
                f"({kb.drug.canonical_low_dose.label()}) and below the standard dose",
                DoseError,
            )
        )
    if evidence.level.needs_acknowledgment:
        needs.append(
            _Need(
                OverrideOption.EVIDENCE,
                f"LDN evidence for {condition_name} must be acknowledged: {evidence.text}",
                BlockedError,
            )
        )
    return needs


def _override_detail(
    o: Override, patient: PatientContext | None, window: OpioidWindow | None
) -> str:
    if o.option is OverrideOption.CONTRAINDICATION and patient:
        return "; ".join(b.summary for b in patient.blockers)
    if o.option is OverrideOption.OPIOID_FREE_INTERVAL and window:
        return window.message
    return ""


def _notes(
    plan: CompoundingPlan,
    regimen: Regimen,
    recorded: tuple[Override, ...],
    patient: PatientContext | None,
    evidence: EvidenceStatus,
    window: OpioidWindow | None,
    kb: KnowledgeBase,
) -> list[str]:
    notes = ["Compounding: " + " ".join(plan.instructions), "Dose basis: " + plan.salt_statement]
    notes.append("Beyond-use date: " + " ".join(s.text for s in plan.stability))
    if len(plan.fills) > 1:
        notes.append(
            "Fills: " + "; ".join(f"fill {f.number}: {plan.fill_text(f)}" for f in plan.fills)
        )
    if plan.assumptions or regimen.assumptions:
        notes.append("Assumptions: " + " ".join((*regimen.assumptions, *plan.assumptions)))
    notes.append("Off-label use of naltrexone at low dose; compounded product.")
    notes.append(" ".join(screen_lines(patient)).replace("Screen:      ", "Safety screen: "))
    notes.append(f"Evidence ({evidence.level.value}): {evidence.text}")
    for o in recorded:
        title, what = option_text(o.option, kb)
        detail = _override_detail(o, patient, window)
        notes.append(
            f"Override '{o.option.value}' ({title}: {what}) by the prescriber"
            + (f" ({detail})" if detail else "")
            + f". Reason: {o.reason}"
        )
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


def _dispense_lines(regimen: Regimen, plan: CompoundingPlan) -> list[str]:
    fills = plan.fills
    if len(fills) <= 1:
        if plan.form is Form.CAPSULE:
            parts = "; ".join(f"{fmt_mg(c.strength_mg)} mg × {c.count}" for c in plan.capsules)
            return [
                f"Dispense:    {parts} (total {plan.total_capsules} capsules) = "
                f"{regimen.days}-day supply. No refills."
            ]
        return [
            f"Dispense:    {fmt_mg(plan.total_volume_ml)} mL of "
            f"{fmt_mg(plan.concentration_mg_per_ml or Decimal(0))} mg/mL = {regimen.days}-day "
            "supply, with an oral syringe. No refills."
        ]
    assert plan.fill_plan is not None
    what = (
        "capsules"
        if plan.form is Form.CAPSULE
        else f"{fmt_mg(plan.concentration_mg_per_ml or Decimal(0))} mg/mL, with an oral syringe"
    )
    refills = len(fills) - 1
    lines = [
        f"Dispense:    {regimen.days}-day supply ({what}) in {len(fills)} fills of at most "
        f"{plan.fill_plan.limit_days} days: first fill, then {refills} "
        f"refill{'s' if refills != 1 else ''}."
    ]
    lines += [
        f"  Fill {f.number}{' (refill)' if f.number > 1 else ''}: {plan.fill_text(f)}"
        for f in fills
    ]
    return lines


def _text(
    cond: Condition,
    regimen: Regimen,
    plan: CompoundingPlan,
    authored: date,
    patient: PatientContext | None,
    recorded: tuple[Override, ...],
    warnings: list[tuple[str, tuple[str, ...]]],
    evidence: EvidenceStatus,
    window: OpioidWindow | None,
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
        f"Evidence:    {evidence.text}{cite(evidence.refs)}",
        *screen_lines(patient),
        "",
        f"Rx:  {medication_text(plan, regimen)}",
        "Sig:",
        *(_step_line(regimen, plan, i) for i in range(len(regimen.steps))),
    ]
    lines += _dispense_lines(regimen, plan)
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
        lines += [f"  - {w}{cite(refs)}" for w, refs in warnings]
    if recorded:
        lines += ["", "OVERRIDES RECORDED BY THE PRESCRIBER:"]
        for o in recorded:
            title, what = option_text(o.option, kb)
            if o.option is OverrideOption.CONTRAINDICATION and patient:
                lines.append(f"  - CONTRAINDICATION OVERRIDDEN (option '{o.option.value}'):")
                lines += [f"      {b.summary}{cite(b.refs)}" for b in patient.blockers]
            elif o.option is OverrideOption.OPIOID_FREE_INTERVAL and window:
                lines.append(
                    f"  - {title.upper()} OVERRIDDEN (option '{o.option.value}'): "
                    f"{window.message}{cite(window.refs)}"
                )
            elif o.option is OverrideOption.EVIDENCE:
                lines.append(
                    f"  - {title.upper()} (option '{o.option.value}'): {evidence.text}"
                    f"{cite(evidence.refs)}"
                )
            else:
                lines.append(f"  - {title.upper()} OVERRIDDEN (option '{o.option.value}'): {what}")
            lines.append(f"    Reason recorded: {o.reason}")
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
