"""Medicine rules other than opioids: every medicine checked or named, naltrexone already in use,
and the label's interacting drugs (thioridazine, disulfiram).

Fail closed: a current medicine (or one of unknown status, or one stopped inside the opioid-free
window) whose ingredients the program cannot identify could be an opioid or an interacting drug,
so it raises `medication-unchecked` and the candidacy becomes `needs-review`.
"""

from __future__ import annotations

from ldn_derm.assess.context import Context, describe_medication, listing
from ldn_derm.assess.models import Finding, Severity
from ldn_derm.patient.profile import MedicationFact, MedStatus
from ldn_derm.patient.terminology import CHECKED_BY_RXNORM_NAME

NALTREXONE = "naltrexone"
INTERACTION_CLASS = "naltrexone-interaction"


def medication_findings(ctx: Context) -> list[Finding]:
    return [*_unchecked(ctx), *_naltrexone_in_use(ctx), *_interactions(ctx), *_by_name_only(ctx)]


def unchecked_medications(ctx: Context) -> list[MedicationFact]:
    """Medicines that matter to the screen and that the program could not identify: current,
    of unknown status, or stopped so recently that an opioid among them would still matter."""
    window_start = ctx.as_of - ctx.days("opioid-free-days")
    out = []
    for med in ctx.profile.medications:
        if med.recognised:
            continue
        stopped_long_ago = med.last_date is not None and med.last_date < window_start
        if med.status is MedStatus.PAST and stopped_long_ago:
            continue  # even an opioid stopped that long ago would not matter now
        out.append(med)
    return out


def _unchecked(ctx: Context) -> list[Finding]:
    meds = unchecked_medications(ctx)
    if not meds:
        return []
    labels = [_unchecked_label(m, ctx) for m in meds]
    return [
        ctx.finding(
            "medication-unchecked",
            Severity.CAUTION,
            ["unchecked-medicines"],
            f"{len(meds)} medicine(s) not identified: " + listing(labels, limit=len(labels)),
            [m.ref for m in meds],
            note=(
                "Check each of them for an opioid, another naltrexone product or an interacting "
                "drug before prescribing; until then the screen is incomplete (candidacy "
                "'needs-review')."
            ),
        )
    ]


def _unchecked_label(med: MedicationFact, ctx: Context) -> str:
    parts = ", ".join(med.unrecognised_parts) or "no usable name or code"
    return f"{describe_medication(med, ctx.as_of)} [not recognised: {parts[:80]}]"


def _naltrexone_in_use(ctx: Context) -> list[Finding]:
    meds = [
        m
        for m in ctx.profile.medications
        if NALTREXONE in m.ingredients and m.status is not MedStatus.PAST
    ]
    if not meds:
        return []
    return [
        ctx.finding(
            "naltrexone-duplicate",
            Severity.CAUTION,
            ["naltrexone-duplicate"],
            "naltrexone already in the record: "
            + listing([describe_medication(m, ctx.as_of) for m in meds]),
            [m.ref for m in meds],
        )
    ]


def _interactions(ctx: Context) -> list[Finding]:
    current = [
        m
        for m in ctx.profile.medications
        if INTERACTION_CLASS in m.classes and m.status is not MedStatus.PAST
    ]
    findings: list[Finding] = []
    # one finding per safety item (its id is the interacting ingredient's id)
    for item_id in sorted({i for m in current for i in m.ingredients if i in ctx.kb.safety}):
        meds = [m for m in current if item_id in m.ingredients]
        findings.append(
            ctx.finding(
                "naltrexone-interaction",
                Severity.CAUTION,
                [item_id],
                "current " + listing([describe_medication(m, ctx.as_of) for m in meds]),
                [m.ref for m in meds],
            )
        )
    return findings


def _by_name_only(ctx: Context) -> list[Finding]:
    """Medicines checked only by splitting an RxNorm name, with ingredients the file lacks."""
    meds = [
        m
        for m in ctx.profile.medications
        if m.checked_by == CHECKED_BY_RXNORM_NAME
        and m.unlisted_ingredients
        and m.status is not MedStatus.PAST
    ]
    if not meds:
        return []
    dates = ", ".join(
        f"{table} of {day.isoformat()}" for table, day in sorted(ctx.m.code_table_dates.items())
    )
    names = sorted({n for m in meds for n in m.unlisted_ingredients})
    return [
        Finding(
            code="medication-checked-by-name",
            severity=Severity.INFO,
            summary="Checked by RxNorm name only — " + listing(names, limit=5),
            detail=(
                "These medicines are written as RxNorm names whose ingredients ("
                + ", ".join(names)
                + ") are not in the knowledge base; none of them is an opioid ingredient of the "
                f"CDC opioid table ({dates}) or a naltrexone product or interacting drug listed "
                "here. Caveat: products approved after that date are not known to the table. "
                "Medicines: "
                + listing([describe_medication(m, ctx.as_of) for m in meds], limit=len(meds))
                + "."
            ),
            triggered_by=[m.ref for m in meds],
            references=["omtk-2020"],
        )
    ]
