"""Opioid rules: current use, agonist therapy, recent stops, use disorder, withdrawal, screens.

Every finding code here contains the word 'opioid'. A product is an opioid if any ingredient
is (class `opioid` in terminology.yaml); loperamide is classed separately (see the decision in
terminology.yaml) and only raises an interaction caution.
"""

from __future__ import annotations

from ldn_derm.assess.context import Context, describe_medication, listing
from ldn_derm.assess.models import Finding, Severity
from ldn_derm.patient.profile import MedicationFact, MedStatus


def opioid_findings(ctx: Context) -> list[Finding]:
    meds = [m for m in ctx.profile.medications if "opioid" in m.classes]
    current = [m for m in meds if m.status is MedStatus.CURRENT]
    findings: list[Finding] = []

    agonist_therapy = [m for m in current if "opioid-agonist-therapy" in m.classes]
    other_current = [m for m in current if m not in agonist_therapy]
    long_term = ctx.profile.conditions_with("opioid-long-term-use")

    if agonist_therapy:
        findings.append(
            ctx.finding(
                "opioid-agonist-therapy",
                Severity.CONTRAINDICATED,
                ["opioid-dependence"],
                listing([describe_medication(m, ctx.as_of) for m in agonist_therapy]),
                [m.ref for m in agonist_therapy],
            )
        )
    if other_current or long_term:
        safety = ["opioid-analgesics"]
        if any(c in m.classes for m in other_current for c in _ANTAGONISED_PRODUCTS):
            safety.append("opioid-interactions")
        facts = [describe_medication(m, ctx.as_of) for m in other_current]
        facts += [f"{c.text} (active condition)" for c in long_term]
        findings.append(
            ctx.finding(
                "opioid-use",
                Severity.CONTRAINDICATED,
                safety,
                listing(facts),
                [m.ref for m in other_current] + [c.ref for c in long_term],
                note=_stale_note(ctx, other_current),
            )
        )

    unknown = [m for m in meds if m.status is MedStatus.UNKNOWN]
    if unknown:
        findings.append(
            ctx.finding(
                "opioid-status-unknown",
                Severity.CAUTION,
                ["opioid-analgesics", "opioid-free-interval"],
                "opioid with no usable status: "
                + listing([describe_medication(m, ctx.as_of) for m in unknown]),
                [m.ref for m in unknown],
                note="The record does not say whether this opioid is still taken; ask.",
            )
        )

    recent, older = _split_past(ctx, [m for m in meds if m.status is MedStatus.PAST])
    if recent:
        findings.append(
            ctx.finding(
                "opioid-recent",
                Severity.CAUTION,
                ["opioid-free-interval"],
                "opioid stopped recently: " + listing([_recent_label(ctx, m) for m in recent]),
                [m.ref for m in recent],
            )
        )
    if older and not current and not recent and not unknown:
        latest = max(older, key=lambda m: m.last_date or ctx.as_of)
        findings.append(
            ctx.finding(
                "opioid-past",
                Severity.INFO,
                ["opioid-free-interval"],
                f"{len(older)} past opioid record(s), the latest "
                + describe_medication(latest, ctx.as_of),
                [m.ref for m in older],
            )
        )

    findings += _disorder_findings(ctx)
    findings += _screen_findings(ctx)
    findings += _antidiarrheal_findings(ctx)
    return findings


_ANTAGONISED_PRODUCTS = ("opioid-antitussive", "opioid-antidiarrheal")


def _stale_note(ctx: Context, meds: list[MedicationFact]) -> str | None:
    old = [m for m in meds if m.start and (ctx.as_of - m.start).days > 365]
    if not old:
        return None
    return (
        "Some of these orders are more than a year old yet still marked active; confirm with "
        "the patient whether they are taken, but treat them as current until the record is "
        "corrected."
    )


def _split_past(
    ctx: Context, past: list[MedicationFact]
) -> tuple[list[MedicationFact], list[MedicationFact]]:
    window = ctx.days("opioid-free-days")
    unknown_window = ctx.days("opioid-unknown-stop-days")
    recent: list[MedicationFact] = []
    older: list[MedicationFact] = []
    for med in past:
        last = med.last_date
        # No date at all: the stop may have been yesterday, so the interval is not shown kept.
        limit = window if med.end_known else unknown_window
        if last is None or ctx.as_of - last <= limit:
            recent.append(med)
        else:
            older.append(med)
    return recent, older


def _recent_label(ctx: Context, med: MedicationFact) -> str:
    if med.last_date is None:
        return f"{med.text} ({med.raw_status}, no date recorded)"
    days = (ctx.as_of - med.last_date).days
    if med.end_known:
        return f"{med.text} (ended {med.last_date.isoformat()}, {days} day(s) before)"
    return (
        f"{med.text} ({med.raw_status}; ordered {med.last_date.isoformat()}, {days} day(s) "
        "before; stop date not recorded)"
    )


def _disorder_findings(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    profile = ctx.profile
    disorder = profile.conditions_with("opioid-use-disorder", include_history=True)
    active = [c for c in disorder if c.active and "opioid-use-disorder-remission" not in c.concepts]
    remission = [c for c in disorder if c not in active]
    if active:
        findings.append(
            ctx.finding(
                "opioid-use-disorder",
                Severity.CONTRAINDICATED,
                ["opioid-dependence", "naloxone-challenge"],
                "active diagnosis: " + listing([c.text for c in active]),
                [c.ref for c in active],
                note=(
                    "The record codes opioid use disorder or abuse; whether the patient is "
                    "physically dependent now must be established before any naltrexone."
                ),
            )
        )
    elif remission:
        findings.append(
            ctx.finding(
                "opioid-use-disorder-remission",
                Severity.CAUTION,
                ["opioid-dependence", "opioid-free-interval"],
                "in remission or resolved: " + listing([c.text for c in remission]),
                [c.ref for c in remission],
            )
        )
    withdrawal = profile.conditions_with("opioid-withdrawal")
    if withdrawal:
        findings.append(
            ctx.finding(
                "opioid-withdrawal",
                Severity.CONTRAINDICATED,
                ["opioid-withdrawal"],
                "active diagnosis: " + listing([c.text for c in withdrawal]),
                [c.ref for c in withdrawal],
            )
        )
    return findings


def _screen_findings(ctx: Context) -> list[Finding]:
    results = [x for x in ctx.profile.labs_of("opiates-urine") if x.result is not None]
    if not results or results[0].result != "positive":
        return []
    latest = results[0]
    when = latest.effective.isoformat() if latest.effective else "date not recorded"
    recent = latest.effective is not None and (
        ctx.as_of - latest.effective <= ctx.days("opioid-screen-days")
    )
    if recent:
        return [
            ctx.finding(
                "opioid-screen-positive",
                Severity.CONTRAINDICATED,
                ["naloxone-challenge"],
                f"positive urine opiate screen on {when}",
                [latest.ref],
            )
        ]
    return [
        ctx.finding(
            "opioid-screen-positive-past",
            Severity.INFO,
            ["naloxone-challenge"],
            f"the latest urine opiate screen ({when}) was positive",
            [latest.ref],
        )
    ]


def _antidiarrheal_findings(ctx: Context) -> list[Finding]:
    meds = [
        m
        for m in ctx.profile.medications
        if m.status is MedStatus.CURRENT
        and "peripheral-opioid-agonist" in m.classes
        and "opioid" not in m.classes
    ]
    if not meds:
        return []
    return [
        ctx.finding(
            "opioid-antidiarrheal-interaction",
            Severity.CAUTION,
            ["opioid-interactions"],
            "current peripherally acting opioid antidiarrheal: "
            + listing([describe_medication(m, ctx.as_of) for m in meds]),
            [m.ref for m in meds],
            note=(
                "Loperamide is not counted as an opioid for the contraindication (see the "
                "terminology decision in docs/assessment.md); a large or long-term supply "
                "deserves a question about opioid use."
            ),
        )
    ]
