"""The assessment result: `Finding` (shared by comparator flags and CDS cards), `Assessment`."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Finding(_Model):
    """One thing the clinician should know, with the records that triggered it.

    `code` is a stable identifier (docs/assessment.md lists them); every code about opioids
    contains the word 'opioid'. `references` are reference ids from the knowledge base.
    """

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    severity: Severity
    summary: str
    detail: str
    triggered_by: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)


class PatientSummary(_Model):
    id: str
    age: int | None
    sex: str
    deceased: date | None = None


class IndicationEvidence(_Model):
    studies: int
    positive: int
    negative_or_mixed: int
    doses_mg_per_day: list[str]
    # studies that improved at a low dose or an unreported one: what LDN candidacy rests on
    positive_possibly_low: int = 0
    # studies that improved only above the low-dose range (e.g. 50 mg/day): not LDN evidence
    positive_higher_dose: int = 0
    # controlled studies at a dose that may be low with a negative outcome (entry ids)
    negative_controlled_low: list[str] = Field(default_factory=list)


class Indication(_Model):
    condition: str  # condition id in conditions.yaml
    name: str
    matched_from: list[str]
    matched_by: Literal["code", "text", "stated"]
    evidence: IndicationEvidence
    references: list[str]


BaselineTopic = Literal["evidence", "risk", "screening", "monitoring"]


class BaselineItem(_Model):
    """What an option means for every patient, flags or not: how good the evidence is, its
    key risks, the screening before starting and the monitoring during treatment."""

    topic: BaselineTopic
    text: str
    plain: str | None = None  # the same for the patient (the handout's option grid)
    references: list[str] = Field(default_factory=list)
    caveat: str | None = None


class ComparatorResult(_Model):
    """One row of the comparison: a traditional option (comparators.yaml) or LDN itself.

    `flags` are what this patient's record means for the option (for LDN: the assessment's
    contraindications and cautions); `baseline` is shown whether or not anything is flagged.
    """

    therapy: str  # comparator id in comparators.yaml, or "ldn"
    name: str
    kind: Literal["ldn", "nonbiologic", "biologic"]
    drug_class: str = ""
    conditions: list[str] = Field(default_factory=list)  # condition ids it is an option for
    baseline: list[BaselineItem] = Field(default_factory=list)
    flags: list[Finding]

    def baseline_of(self, topic: BaselineTopic) -> list[BaselineItem]:
        return [b for b in self.baseline if b.topic == topic]


class NotAssessed(_Model):
    kind: str
    text: str
    reason: str
    ref: str | None = None


class KnowledgeVersion(_Model):
    version: str
    reviewed: date


class Assessment(_Model):
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
