"""Screening-only reasons, derived from the core's `PatientProfile` and `Assessment`.

The wording and parameters are data (`reasons.yaml`); this module only decides which of them
apply, from facts the core already computed (medication facts with their ingredients, classes
and status, the date of death, the findings, the indications and the comparator flags). The one
thing read here that the core does not read is the date of each Encounter, for the follow-up
check; it is passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ldn_derm.assess import Assessment, Finding, Severity
from ldn_derm.assess.indications import supported
from ldn_derm.errors import KnowledgeError
from ldn_derm.knowledge import KnowledgeBase
from ldn_derm.patient import MedicationFact, MedStatus, PatientProfile

NALTREXONE = "naltrexone"  # ingredient id in terminology.yaml


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Parameter(_Strict):
    value: int = Field(gt=0)
    basis: str
    references: list[str] = Field(default_factory=list)


class Reason(_Strict):
    code: str = Field(pattern=r"^screen-[a-z0-9-]+$")
    severity: Literal["contraindicated", "caution", "info", "from-findings"]
    summary: str
    basis: str
    rests_on: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    cohort_concerns: list[str] = Field(default_factory=list)


class ReasonBook(_Strict):
    parameters: dict[str, Parameter]
    reasons: list[Reason]

    def reason(self, code: str) -> Reason:
        for item in self.reasons:
            if item.code == code:
                return item
        raise KnowledgeError(f"screening reason '{code}' is missing from reasons.yaml")


@lru_cache(maxsize=1)
def reason_book() -> ReasonBook:
    """The screening reasons (reasons.yaml), validated."""
    text = resources.files("ldn_derm.screen").joinpath("reasons.yaml").read_text("utf-8")
    try:
        return ReasonBook.model_validate(yaml.safe_load(text))
    except ValueError as exc:
        raise KnowledgeError(f"screen/reasons.yaml is invalid: {exc}") from None


def check_references(book: ReasonBook, kb: KnowledgeBase) -> None:
    """Every reference a reason cites exists in the knowledge base (KnowledgeError if not)."""
    cited = [r for reason in book.reasons for r in reason.references]
    cited += [r for p in book.parameters.values() for r in p.references]
    missing = sorted({r for r in cited if r not in kb.references})
    if missing:
        raise KnowledgeError(f"screen/reasons.yaml cites unknown references: {missing}")


@dataclass(frozen=True, slots=True)
class Options:
    """What the sweep is asked: the follow-up window in months (None = from reasons.yaml)."""

    follow_up_months: int | None = None


def _finding(
    reason: Reason,
    severity: Severity,
    summary: str,
    refs: list[str],
    references: list[str],
    detail: str = "",
) -> Finding:
    return Finding(
        code=reason.code,
        severity=severity,
        summary=summary,
        detail=detail or " ".join(reason.basis.split()),
        triggered_by=list(dict.fromkeys(refs)),
        references=list(dict.fromkeys(references)),
    )


def naltrexone_products(profile: PatientProfile) -> list[MedicationFact]:
    """Current records of a naltrexone product (not an opioid that also holds naltrexone)."""
    return [
        m
        for m in profile.medications
        if m.status is MedStatus.CURRENT
        and NALTREXONE in m.ingredients
        and "opioid" not in m.classes
    ]


def _from_findings(
    reason: Reason, findings: Sequence[Finding], exclude: set[str]
) -> tuple[Severity, list[str], list[str]] | None:
    hits = [
        f
        for f in findings
        if f.code in reason.rests_on and any(r not in exclude for r in f.triggered_by)
    ]
    if not hits:
        return None
    severity = min((f.severity for f in hits), key=lambda s: s.rank)
    refs = [r for f in hits for r in f.triggered_by]
    references = [r for f in hits for r in f.references]
    return severity, refs, references


def screening_findings(
    profile: PatientProfile,
    assessment: Assessment,
    kb: KnowledgeBase,
    *,
    encounter_dates: Sequence[date] = (),
    options: Options = Options(),
    cohort_flags: Sequence[Finding] = (),
) -> list[Finding]:
    """The screening-only reasons that apply to this patient (reasons.yaml, in its order).

    `cohort_flags` are the comparator flags of an assessment run with comparators (the caller
    runs it only when the patient has a supported indication).
    """
    book = reason_book()
    out: list[Finding] = []
    products = naltrexone_products(profile)
    product_refs = {m.ref for m in products}

    if products:
        for code in ("screen-naltrexone-with-opioid", "screen-naltrexone-interaction"):
            reason = book.reason(code)
            hit = _from_findings(reason, assessment.findings, product_refs)
            if hit is not None:
                severity, refs, references = hit
                out.append(
                    _finding(
                        reason,
                        severity,
                        reason.summary,
                        [*sorted(product_refs), *refs],
                        [*reason.references, *references],
                    )
                )
        names = {(m.text.lower(), tuple(sorted(c.code for c in m.codes))) for m in products}
        if len(names) > 1:
            reason = book.reason("screen-naltrexone-multiple")
            out.append(
                _finding(
                    reason,
                    Severity(reason.severity),
                    reason.summary,
                    sorted(product_refs),
                    reason.references,
                )
            )
        months = options.follow_up_months or book.parameters["follow-up-months"].value
        seen = _last_seen(profile, encounter_dates)
        cutoff = profile.as_of - timedelta(days=round(months * 365.25 / 12))
        if seen is None or seen < cutoff:
            reason = book.reason("screen-no-follow-up")
            last = f"last seen {seen.isoformat()}" if seen else "no dated record"
            out.append(
                _finding(
                    reason,
                    Severity(reason.severity),
                    reason.summary.format(months=months),
                    sorted(product_refs),
                    [*reason.references, *book.parameters["follow-up-months"].references],
                    detail=f"{' '.join(reason.basis.split())} ({last}).",
                )
            )

    active = [m for m in profile.medications if m.status is MedStatus.CURRENT]
    if profile.deceased is not None and active:
        reason = book.reason("screen-deceased-orders-active")
        refs = [profile.patient_ref] if profile.patient_ref else []
        out.append(
            _finding(
                reason,
                Severity(reason.severity),
                reason.summary,
                refs + [m.ref for m in active],
                reason.references,
            )
        )

    reason = book.reason("screen-cohort-evidence-systemic-risk")
    evidence = [i for i in assessment.indications if supported(i)]
    if evidence and cohort_flags:
        concern_of = {f.id: f.concern.value for c in kb.comparators.values() for f in c.flags}
        flags = [
            f
            for f in cohort_flags
            if concern_of.get(f.code) in reason.cohort_concerns and f.severity is not Severity.INFO
        ]
        if flags:
            refs = [r for i in evidence for r in i.matched_from] + [
                r for f in flags for r in f.triggered_by
            ]
            references = [r for i in evidence for r in i.references] + [
                r for f in flags for r in f.references
            ]
            conditions = ", ".join(i.name for i in evidence)
            out.append(
                _finding(
                    reason,
                    Severity(reason.severity),
                    " ".join(reason.summary.split()),
                    refs,
                    references,
                    detail=f"Indication: {conditions}. Flags: "
                    + "; ".join(sorted({f.summary for f in flags})),
                )
            )
    return out


def _last_seen(profile: PatientProfile, encounter_dates: Sequence[date]) -> date | None:
    past = [d for d in encounter_dates if d <= profile.as_of]
    if encounter_dates:
        return max(past) if past else None
    dated: list[date] = []
    for med in profile.medications:
        dated += [d for d in (med.start, med.last_date) if d is not None]
    dated += [c.onset for c in profile.conditions if c.onset is not None]
    dated += [lab.effective for lab in profile.labs if lab.effective is not None]
    past = [d for d in dated if d <= profile.as_of]
    return max(past) if past else None


def problem_finding(code: str, refs: list[str], **values: object) -> Finding:
    """`screen-record-unreadable` / `screen-record-incomplete` for one patient (fail closed)."""
    reason = reason_book().reason(code)
    return _finding(
        reason, Severity(reason.severity), reason.summary.format(**values)[:500], refs, []
    )
