"""The loaded knowledge base and the queries the rest of the program asks of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ldn_derm.errors import UnknownConditionError
from ldn_derm.knowledge.models import (
    Comparator,
    Condition,
    Drug,
    EvidenceEntry,
    LdnOption,
    MedicineConcern,
    Meta,
    Outcome,
    PkpdParameters,
    Protocols,
    Reference,
    SafetyItem,
    Terminology,
)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@dataclass(frozen=True)
class ConditionSummary:
    condition: Condition
    studies: int
    positive: int
    negative_or_mixed: int
    doses_mg_per_day: list[str]
    low_dose_studies: int
    references: list[str]
    # improved at a low dose, or at one the source does not report (which may have been low);
    # improvement seen only at higher doses is evidence for naltrexone, not for LDN
    positive_possibly_low: int = 0
    higher_dose_positive_doses: tuple[str, ...] = ()  # doses of improved higher-dose studies
    # controlled studies (placebo or active comparator) at a dose that may be low whose
    # outcome was no benefit, no difference from the comparator, or worse: entry ids
    negative_controlled_low: tuple[str, ...] = ()

    @property
    def positive_higher_dose(self) -> int:
        """Studies that improved only at a dose above the low-dose range (e.g. 50 mg/day)."""
        return self.positive - self.positive_possibly_low

    def line(self) -> str:
        """'Psoriasis: 3 studies; 2 improved at a low (or unreported) dose, 0 only at higher
        doses; 1 mixed, no benefit, no difference or worse; doses 4.5 mg/day'. Improvement at a
        low dose and improvement only at higher doses are never added together."""
        doses = "doses " + ", ".join(self.doses_mg_per_day) if self.doses_mg_per_day else ""
        higher = (
            f" ({', '.join(self.higher_dose_positive_doses)})"
            if self.higher_dose_positive_doses
            else ""
        )
        return (
            f"{self.condition.name}: {self.studies} stud{'y' if self.studies == 1 else 'ies'}; "
            f"{self.positive_possibly_low} improved at a low (or unreported) dose, "
            f"{self.positive_higher_dose} only at higher doses{higher}; "
            f"{self.negative_or_mixed} mixed, no benefit, no difference or worse; "
            f"{doses or 'doses not reported'}"
        )


@dataclass(frozen=True)  # not slots: 910 of them are unpickled at every start, and a slots
class DrugCode:  # dataclass is rebuilt through a Python __setstate__ (a dict one is not)
    """One RxNorm drug code from a code table (e.g. CDC OMTK): its name and ingredient ids."""

    rxcui: str
    name: str
    ingredients: frozenset[str]
    dose_form: str
    table: str  # CodeTable id


@dataclass(frozen=True)
class KnowledgeBase:
    meta: Meta
    references: dict[str, Reference]
    conditions: dict[str, Condition]
    evidence: dict[str, EvidenceEntry]
    safety: dict[str, SafetyItem]
    comparators: dict[str, Comparator]
    drug: Drug
    terminology: Terminology
    pkpd: PkpdParameters
    protocols: Protocols
    # comparators.yaml: the LDN row of the comparison
    ldn_option: LdnOption
    drug_codes: dict[str, DrugCode] = field(default_factory=dict)  # RxCUI -> code-table row(s)
    # comparators.yaml: the current medicines some comparator flags react to
    medicine_concerns: tuple[MedicineConcern, ...] = ()

    # ------------------------------------------------------------ conditions
    def find_condition(self, query: str) -> Condition:
        """A condition by id, name, ICD-10-CM/SNOMED code or text alias (case-insensitive)."""
        q = _norm(query)
        if not q:
            written = query.strip()[:60]
            raise UnknownConditionError(
                f"'{written}' names no condition (no letters or digits)"
                if written
                else "no condition given"
            )
        exact = []
        for cond in self.conditions.values():
            keys = {_norm(cond.id), _norm(cond.name), *(_norm(t) for t in cond.text)}
            keys |= {_norm(c.code) for c in (*cond.icd10cm, *cond.snomed)}
            if q in keys:
                exact.append(cond)
        if len(exact) == 1:
            return exact[0]
        if exact:  # a shared code (Q82.8: Hailey-Hailey and Darier) must not pick one silently
            names = ", ".join(c.id for c in exact)
            raise UnknownConditionError(f"'{query}' matches several conditions: {names}")
        partial = [
            c
            for c in self.conditions.values()
            if q in _norm(c.name) or any(q in _norm(t) for t in c.text)
        ]
        if len(partial) == 1:
            return partial[0]
        known = ", ".join(sorted(self.conditions))
        if len(partial) > 1:
            names = ", ".join(c.id for c in partial)
            raise UnknownConditionError(f"'{query}' matches several conditions: {names}")
        raise UnknownConditionError(f"unknown condition '{query}'; known conditions: {known}")

    def evidence_for(self, condition_id: str) -> list[EvidenceEntry]:
        return [e for e in self.evidence.values() if e.condition == condition_id]

    def summarize(self, condition_id: str) -> ConditionSummary:
        entries = self.evidence_for(condition_id)
        doses = dose_labels(entries)
        refs = sorted({r for e in entries for r in e.refs})
        return ConditionSummary(
            condition=self.conditions[condition_id],
            studies=len(entries),
            positive=sum(e.outcome is Outcome.IMPROVED for e in entries),
            negative_or_mixed=sum(e.outcome is not Outcome.IMPROVED for e in entries),
            doses_mg_per_day=doses,
            low_dose_studies=sum(1 for e in entries if self.dose_class(e) == "low"),
            references=refs,
            positive_possibly_low=sum(
                e.outcome is Outcome.IMPROVED and self.possibly_low(e) for e in entries
            ),
            higher_dose_positive_doses=tuple(
                dose_labels(
                    [
                        e
                        for e in entries
                        if e.outcome is Outcome.IMPROVED and not self.possibly_low(e)
                    ]
                )
            ),
            negative_controlled_low=tuple(e.id for e in self.negative_controlled_low_dose(entries)),
        )

    def negative_controlled_low_dose(self, entries: list[EvidenceEntry]) -> list[EvidenceEntry]:
        """Controlled studies at a dose that may be low whose outcome was negative (no
        benefit, no difference from the comparator, or worse). Such a study outweighs
        uncontrolled reports of improvement, so the assessment raises it as a caution."""
        return [
            e
            for e in entries
            if e.design.is_controlled and e.outcome.is_negative and self.possibly_low(e)
        ]

    def evidence_mix(self) -> str:
        """'Of the 31 evidence entries in the knowledge base, 16 are case reports or case series
        and 3 are randomised trials (0 of them showing a benefit at a low dose).' Counted from
        the data, so no page needs an uncited summary of the evidence."""
        entries = list(self.evidence.values())
        designs = [e.design.value for e in entries]
        small = sum(d in {"case-report", "case-series", "retrospective-series"} for d in designs)
        trials = [e for e in entries if e.design.value in {"rct", "crossover-rct"}]
        low_benefit = sum(
            self.dose_class(e) == "low" and e.outcome is Outcome.IMPROVED for e in trials
        )
        higher_benefit = sum(
            self.dose_class(e) != "low" and e.outcome is Outcome.IMPROVED for e in trials
        )
        return (
            f"Of the {len(designs)} evidence entries in the knowledge base, {small} are case "
            f"reports or case series and {len(trials)} are randomised trials "
            f"({low_benefit} of them showing a benefit at a low dose, {higher_benefit} only at "
            "a higher or unreported dose)."
        )

    def possibly_low(self, entry: EvidenceEntry) -> bool:
        """The study may have given a low dose: its dose is unreported, or its range starts
        inside the low-dose range (1.5-6 mg/day does; 6.25 mg/day and 50 mg/day do not)."""
        return entry.dose is None or entry.dose.low <= self.drug.canonical_low_dose.high

    def dose_class(self, entry: EvidenceEntry) -> str:
        """'low', 'standard', 'intermediate' or 'unknown', against the drug's cited ranges."""
        if entry.dose is None:
            return "unknown"
        if entry.dose.high <= self.drug.canonical_low_dose.high:
            return "low"
        if entry.dose.low >= self.drug.standard_dose.low:
            return "standard"
        return "intermediate"

    # ------------------------------------------------------------ references
    def cite(self, ref_ids: list[str]) -> list[Reference]:
        return [self.references[r] for r in ref_ids]


def dose_labels(entries: list[EvidenceEntry]) -> list[str]:
    """The distinct stated doses of the entries, lowest first ('3–4.5 mg/day', '50 mg/day')."""
    ranges = sorted({(e.dose.low, e.dose.high, e.dose.label()) for e in entries if e.dose})
    return list(dict.fromkeys(label for _, _, label in ranges))
