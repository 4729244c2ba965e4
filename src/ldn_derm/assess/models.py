"""The assessment result: `Finding` (shared by comparator flags and CDS cards), `Assessment`.

Frozen dataclasses built by the rules; adapters turn them into JSON with
`ldn_derm.knowledge.models.as_data` (or orjson, which reads dataclasses as they are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

_CODE = re.compile(r"[a-z0-9][a-z0-9-]*")


MatchedBy = Literal["code", "text", "stated"]  # how an indication was found in the record


class Severity(StrEnum):
    CONTRAINDICATED = "contraindicated"
    CAUTION = "caution"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"contraindicated": 0, "caution": 1, "info": 2}[self.value]


class Candidacy(StrEnum):
    CANDIDATE = "candidate"
    CANDIDATE_WITH_CAUTIONS = "candidate-with-cautions"
    CONTRAINDICATED = "contraindicated"
    NO_INDICATION = "no-indication"
    NEEDS_REVIEW = "needs-review"  # a medicine could not be checked: the screen is incomplete


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One thing the clinician should know, with the records that triggered it.

    `code` is a stable identifier (docs/assessment.md lists them); every code about opioids
    contains the word 'opioid'. `references` are reference ids from the knowledge base.
    """

    code: str  # lower-case letters, digits and hyphens
    severity: Severity
    summary: str
    detail: str
    triggered_by: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if _CODE.fullmatch(self.code) is None:
            raise ValueError(f"finding code '{self.code}' is not lower-case words and hyphens")


@dataclass(frozen=True, kw_only=True)
class PatientSummary:
    id: str
    age: int | None
    sex: str
    deceased: date | None = None


@dataclass(frozen=True, kw_only=True)
class IndicationEvidence:
    studies: int
    positive: int
    negative_or_mixed: int
    doses_mg_per_day: list[str]
    # studies that improved at a low dose or an unreported one: what LDN candidacy rests on
    positive_possibly_low: int = 0
    # studies that improved only above the low-dose range (e.g. 50 mg/day): not LDN evidence
    positive_higher_dose: int = 0
    # controlled studies at a dose that may be low with a negative outcome (entry ids)
    negative_controlled_low: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Indication:
    condition: str  # condition id in conditions.yaml
    name: str
    matched_from: list[str]
    matched_by: MatchedBy
    evidence: IndicationEvidence
    references: list[str]


BaselineTopic = Literal["evidence", "risk", "screening", "monitoring"]


@dataclass(frozen=True, kw_only=True)
class BaselineItem:
    """What an option means for every patient, flags or not: how good the evidence is, its
    key risks, the screening before starting and the monitoring during treatment."""

    topic: BaselineTopic
    text: str
    plain: str | None = None  # the same for the patient (the handout's option grid)
    references: list[str] = field(default_factory=list)
    caveat: str | None = None


@dataclass(frozen=True, kw_only=True)
class ComparatorResult:
    """One row of the comparison: a traditional option (comparators.yaml) or LDN itself.

    `flags` are what this patient's record means for the option (for LDN: the assessment's
    contraindications and cautions); `baseline` is shown whether or not anything is flagged.
    """

    therapy: str  # comparator id in comparators.yaml, or "ldn"
    name: str
    kind: Literal["ldn", "nonbiologic", "biologic"]
    drug_class: str = ""
    conditions: list[str] = field(default_factory=list)  # condition ids it is an option for
    baseline: list[BaselineItem] = field(default_factory=list)
    flags: list[Finding]

    def baseline_of(self, topic: BaselineTopic) -> list[BaselineItem]:
        return [b for b in self.baseline if b.topic == topic]


@dataclass(frozen=True, kw_only=True)
class NotAssessed:
    kind: str
    text: str
    reason: str
    ref: str | None = None


@dataclass(frozen=True, kw_only=True)
class KnowledgeVersion:
    version: str
    reviewed: date


@dataclass(frozen=True, kw_only=True)
class Assessment:
    patient: PatientSummary
    as_of: date
    candidacy: Candidacy
    indications: list[Indication]
    findings: list[Finding]
    comparators: list[ComparatorResult]
    not_assessed: list[NotAssessed]
    knowledge_base: KnowledgeVersion

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]
