"""Pydantic models for the knowledge-base data files.

Every clinical statement carries `refs` (reference ids) and a `certainty` saying how the fact
was extracted, so that the program can always show where a statement comes from and how sure it
is. Field names are the YAML keys; `extra="forbid"` turns a typo in a data file into an error.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RefId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]


class Certainty(StrEnum):
    """How a fact was extracted from its source (weakest last)."""

    SEEN_ARTICLE = "seen-article"  # read in (an excerpt of) the article itself
    SEEN_ABSTRACT = "seen-abstract"  # read in the abstract or an index page
    SEEN_LABEL = "seen-label"  # read in an official drug label or product information
    SECONDARY = "secondary"  # only in a secondary / non-peer-reviewed source
    RECALLED = "recalled"  # background knowledge, not verified: never a basis for rules
    DERIVED = "derived"  # arithmetic on seen values (the calculation is given)

    @property
    def is_primary(self) -> bool:
        return self in {Certainty.SEEN_ARTICLE, Certainty.SEEN_ABSTRACT, Certainty.SEEN_LABEL}


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True
    )


class Reference(Strict):
    id: RefId
    authors: str | None = None
    title: str
    journal: str | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    citation: str | None = None  # volume(issue):pages
    pmid: str | None = Field(default=None, pattern=r"^\d{5,9}$")
    doi: str | None = Field(default=None, pattern=r"^10\.\d{4,9}/\S+$")
    url: str | None = None
    certainty: Certainty
    unverified: list[str] = Field(
        default_factory=list,
        description="Fields of this record that were recalled, not seen (e.g. pmid, authors).",
    )
    note: str | None = None

    def vancouver(self, *, include_doi: bool = True, include_pmid: bool = True) -> str:
        """One-line citation: `Authors. Title. Journal Year;vol(issue):pages. PMID n; doi:x`."""
        text = ". ".join(p.rstrip(".") for p in (self.authors, self.title) if p)
        if self.journal:
            text += f". {self.journal}"
        if self.year:
            text += f" {self.year}"
        if self.citation:
            text += f";{self.citation}"
        ids = [f"PMID {self.pmid}"] if self.pmid and include_pmid else []
        if self.doi and include_doi:
            ids.append(f"doi:{self.doi}")
        return text + (". " + "; ".join(ids) if ids else "")

    def link(self) -> str | None:
        """The best address to read the source: DOI, then PubMed, then the stored URL."""
        if self.doi:
            return f"https://doi.org/{self.doi}"
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        return self.url

    def short(self) -> str:
        """`Albers 2017, JAMA Dermatol` style label; `(unverified)` follows an author or year
        that was recalled rather than seen."""
        first = (self.authors or self.title).split(",")[0].split(" ")[0]
        parts = [first if self.authors else self.title]
        if self.year:
            parts.append(str(self.year))
        label = " ".join(parts)
        if (self.authors and "authors" in self.unverified) or (
            self.year and "year" in self.unverified
        ):
            label += " (unverified)"
        return f"{label}, {self.journal}" if self.journal else label


class Statement(Strict):
    """One cited clinical statement."""

    id: Slug | None = None  # a handle for the few statements the program quotes elsewhere
    text: str = Field(min_length=3)
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    caveat: str | None = None  # conflicting evidence or limits, said plainly


def _check_unique_ids(statements: list[Statement]) -> None:
    ids = [st.id for st in statements if st.id]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"statement ids used more than once: {', '.join(repeated)}")


def _statement_in(statements: list[Statement], statement_id: str) -> Statement:
    for st in statements:
        if st.id == statement_id:
            return st
    raise KeyError(statement_id)


class DoseRange(Strict):
    """A daily oral dose in mg/day; `low == high` for a fixed dose."""

    low: float = Field(gt=0, le=1000)
    high: float = Field(gt=0, le=1000)
    unit: Literal["mg/day"]

    @model_validator(mode="before")
    @classmethod
    def _single_value(cls, data: object) -> object:
        if isinstance(data, dict) and "value" in data:
            data = dict(data)
            value = data.pop("value")
            data.setdefault("low", value)
            data.setdefault("high", value)
        return data

    @model_validator(mode="after")
    def _ordered(self) -> DoseRange:
        if self.low > self.high:
            raise ValueError(f"dose low ({self.low}) is above high ({self.high})")
        return self

    def label(self) -> str:
        def fmt(x: float) -> str:
            return f"{x:g}"

        if self.low == self.high:
            return f"{fmt(self.low)} mg/day"
        return f"{fmt(self.low)}–{fmt(self.high)} mg/day"


# ---------------------------------------------------------------- conditions & terminology


class Coding(Strict):
    code: str
    display: str | None = None
    verified: bool
    source: str | None = None  # where the code was verified (or found)
    # True when the code is used as it stood in an OLDER code-set release (named in `source`),
    # which the bundled checker cannot confirm, e.g. L66.1 as a billable leaf before its split.
    legacy: bool = False


class Condition(Strict):
    id: Slug
    name: str
    group: str | None = None  # e.g. "pruritus"
    icd10cm: list[Coding] = Field(default_factory=list)
    snomed: list[Coding] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list, description="Free-text names to match.")
    note: str | None = None


class Ingredient(Strict):
    """A drug ingredient with its RxNorm ingredient RxCUI and the classes rules care about."""

    id: Slug
    name: str
    rxcui: str | None = Field(default=None, pattern=r"^\d+$")
    rxcui_verified: bool = False
    classes: list[str] = Field(default_factory=list)  # e.g. opioid, opioid-agonist-therapy
    synonyms: list[str] = Field(default_factory=list)  # salt forms, spellings
    refs: list[RefId] = Field(default_factory=list)
    note: str | None = None


class Product(Strict):
    """A brand or combination product named by text; opioid if any ingredient is."""

    name: str
    ingredients: list[Slug] = Field(min_length=1)
    rxcui: str | None = Field(default=None, pattern=r"^\d+$")
    rxcui_verified: bool = False
    aliases: list[str] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)  # product-level, e.g. opioid-antitussive
    # Strength of one unit (tablet, capsule, mL of liquid, vial) of the main ingredient, for
    # reading a dose written as a count of units ("1 tablet" of a 50 mg product).
    strength_mg: float | None = Field(default=None, gt=0)
    unit: str | None = None  # what one unit is: tablet, capsule, mL, vial
    source: str | None = None  # where the composition / RxCUI was seen
    refs: list[RefId] = Field(default_factory=list)
    note: str | None = None


class LabThreshold(Strict):
    """A cut-off that makes a lab result count as evidence of a clinical concept."""

    concept: Slug  # id of a ClinicalConcept in the same terminology file
    at_least: float | None = None  # result >= at_least counts
    below: float | None = None  # result < below counts
    units: list[str] = Field(min_length=1)  # units the cut-off is written in (others skipped)
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    caveat: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> LabThreshold:
        if (self.at_least is None) == (self.below is None):
            raise ValueError("give exactly one of 'at_least' or 'below'")
        return self


class LabCode(Strict):
    id: Slug
    name: str
    loinc: list[Coding] = Field(min_length=1)
    unit: str | None = None
    thresholds: list[LabThreshold] = Field(default_factory=list)


class ClinicalConcept(Strict):
    """A non-dermatological condition the assessment rules react to (CKD, pregnancy, ...).

    ICD-10-CM codes match themselves and every code below them (a block such as "C00-C96"
    matches every category in its range); SNOMED CT codes match exactly; `text` names match
    as whole words in a condition's display or text unless one of `exclude_text` occurs.
    """

    id: Slug
    name: str
    concern: Concern | None = None  # the comparator concern it raises, if any
    history_counts: bool = False  # a resolved record still counts (e.g. malignancy history)
    icd10cm: list[Coding] = Field(default_factory=list)
    snomed: list[Coding] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    exclude_text: list[str] = Field(default_factory=list)
    note: str | None = None


class RuleParameter(Strict):
    """A number an assessment rule needs (a window in days, an age), with where it comes from.

    A cited parameter has `refs` and a `certainty`; a program convention has neither and says
    so in `basis`.
    """

    id: Slug
    value: float
    unit: Literal["days", "years"]
    basis: str = Field(min_length=3)
    refs: list[RefId] = Field(default_factory=list)
    certainty: Certainty | None = None

    @model_validator(mode="after")
    def _cited_or_convention(self) -> RuleParameter:
        if bool(self.refs) != (self.certainty is not None):
            raise ValueError("a cited parameter needs refs and certainty; a convention neither")
        return self


class CodeTable(Strict):
    """A table of RxNorm drug codes and their ingredients, loaded from a CSV in data/codes/.

    Rows name ingredients by RxCUI; each must be an ingredient of this file with that RxCUI.
    """

    id: Slug
    file: str = Field(pattern=r"^[A-Za-z0-9._-]+\.csv$")
    title: str
    generated: date  # the date the table's content was generated: codes after it are unknown
    classes: list[str] = Field(default_factory=list)  # what the table asserts about its rows
    refs: list[RefId] = Field(min_length=1)
    note: str | None = None


class Terminology(Strict):
    ingredients: list[Ingredient]
    code_tables: list[CodeTable] = Field(default_factory=list)
    rxnorm_dose_forms: list[str] = Field(default_factory=list)
    products: list[Product] = Field(default_factory=list)
    labs: list[LabCode] = Field(default_factory=list)
    concepts: list[ClinicalConcept] = Field(default_factory=list)
    parameters: list[RuleParameter] = Field(default_factory=list)
    negation_phrases: list[str] = Field(
        default_factory=list, description="Text that stops a free-text condition match."
    )
    decisions: list[Statement] = Field(
        default_factory=list, description="Documented classification decisions, e.g. loperamide."
    )

    @model_validator(mode="after")
    def _links(self) -> Terminology:
        for kind, ids in (
            ("ingredient", [i.id for i in self.ingredients]),
            ("lab", [lab.id for lab in self.labs]),
            ("concept", [c.id for c in self.concepts]),
            ("parameter", [p.id for p in self.parameters]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} id(s): {', '.join(dupes)}")
        concept_ids = {c.id for c in self.concepts}
        for lab in self.labs:
            for threshold in lab.thresholds:
                if threshold.concept not in concept_ids:
                    raise ValueError(
                        f"lab '{lab.id}' threshold names unknown concept '{threshold.concept}'"
                    )
        return self


# ---------------------------------------------------------------- evidence


class Design(StrEnum):
    RCT = "rct"
    CROSSOVER_RCT = "crossover-rct"
    CONTROLLED_TRIAL = "controlled-trial"  # has a control arm or phase; randomization not stated
    OPEN_LABEL_TRIAL = "open-label-trial"
    PROSPECTIVE_COHORT = "prospective-cohort"
    RETROSPECTIVE_SERIES = "retrospective-series"
    CASE_SERIES = "case-series"
    CASE_REPORT = "case-report"
    SYSTEMATIC_REVIEW = "systematic-review"
    NARRATIVE_REVIEW = "narrative-review"

    @property
    def is_controlled(self) -> bool:
        """A study with a control arm or phase (placebo or active comparator)."""
        return self in {Design.RCT, Design.CROSSOVER_RCT, Design.CONTROLLED_TRIAL}


class Outcome(StrEnum):
    IMPROVED = "improved"
    MIXED = "mixed"
    NO_BENEFIT = "no-benefit"
    # no significant difference from an ACTIVE comparator (e.g. an antihistamine): not evidence
    # of no benefit against placebo, and not evidence of benefit either
    NO_DIFFERENCE = "no-difference-vs-comparator"
    WORSE = "worse"

    @property
    def is_positive(self) -> bool:
        return self is Outcome.IMPROVED

    @property
    def is_negative(self) -> bool:
        """No benefit, no difference from a comparator, or worse ('mixed' is neither)."""
        return self in {Outcome.NO_BENEFIT, Outcome.NO_DIFFERENCE, Outcome.WORSE}


class EvidenceEntry(Strict):
    id: Slug
    condition: Slug
    study: str  # short human label, e.g. "Albers 2017"
    design: Design
    n: int | None = Field(default=None, ge=1)
    dose: DoseRange | None = None
    dose_note: str | None = None  # why the dose is missing or uncertain
    duration: str | None = None
    outcome: Outcome
    effect: str
    measures: list[str] = Field(default_factory=list)  # PASI, BSA, LPPAI, VAS, NRS...
    time_to_response: str | None = None
    adverse_events: str | None = None
    # what naltrexone was given WITH (an add-on or combination study), so that the result is
    # never read as naltrexone alone; None when the source reports monotherapy or does not say
    add_on_to: str | None = None
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    conflicts: str | None = None  # where another source disagrees, and which

    @model_validator(mode="after")
    def _dose_or_reason(self) -> EvidenceEntry:
        if self.dose is None and not self.dose_note:
            raise ValueError("an entry without a dose needs a dose_note saying why")
        return self


# ---------------------------------------------------------------- drug monograph


class Frequency(Strict):
    text: str  # e.g. "37% of participants"
    events: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=1)
    percent: float | None = Field(default=None, ge=0, le=100)
    population: str | None = None  # e.g. "4.5 mg/day, psoriasis series"

    @model_validator(mode="after")
    def _consistent(self) -> Frequency:
        if self.events is not None and self.total is not None and self.events > self.total:
            raise ValueError(f"{self.events} events out of {self.total} is impossible")
        return self


class SafetyKind(StrEnum):
    ADVERSE_EFFECT = "adverse-effect"
    CONTRAINDICATION = "contraindication"
    CAUTION = "caution"
    INTERACTION = "interaction"
    MONITORING = "monitoring"


class SafetyItem(Strict):
    id: Slug
    kind: SafetyKind
    title: str
    text: str
    dose_context: Literal["low-dose", "standard-dose", "any"] = "any"
    frequency: list[Frequency] = Field(default_factory=list)
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    caveat: str | None = None
    section: Slug | None = None  # monograph section when not the one its kind implies


class MonographSection(Strict):
    id: Slug
    title: str
    statements: list[Statement] = Field(min_length=1)


class LowDoseRange(Strict):
    """A low-dose range as one source states it."""

    range: DoseRange
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty


class Drug(Strict):
    name: str
    ingredient: Slug  # id in terminology
    standard_dose: DoseRange
    standard_dose_refs: list[RefId] = Field(min_length=1)
    low_dose_ranges: list[LowDoseRange] = Field(min_length=1)
    canonical_low_dose: DoseRange  # the range the program uses; must lie inside a cited range
    sections: list[MonographSection] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_statement_ids(self) -> Drug:
        _check_unique_ids([st for sec in self.sections for st in sec.statements])
        return self

    def statement(self, statement_id: str) -> Statement:
        """The monograph statement with this id (KeyError if the data lacks it)."""
        return _statement_in([st for sec in self.sections for st in sec.statements], statement_id)


# ---------------------------------------------------------------- comparators


class Concern(StrEnum):
    """Patient facts a comparator flag reacts to (the assessment matches on these)."""

    PREGNANCY = "pregnancy"
    LIVER_DISEASE = "liver-disease"
    ALCOHOL_USE = "alcohol-use"
    HYPERLIPIDEMIA = "hyperlipidemia"
    CKD = "ckd"
    HYPERTENSION = "hypertension"
    MALIGNANCY = "malignancy"
    SERIOUS_INFECTION = "serious-infection"
    TUBERCULOSIS = "tuberculosis"
    DEPRESSION = "depression"
    DIABETES = "diabetes"
    OBESITY = "obesity"
    INFLAMMATORY_BOWEL_DISEASE = "inflammatory-bowel-disease"
    # computed from sex, age and the absence of recorded menopause or sterility
    CHILDBEARING_POTENTIAL = "childbearing-potential"
    ABNORMAL_LIVER_TESTS = "abnormal-liver-tests"  # lab results only, not a diagnosis
    SEVERE_LIVER_IMPAIRMENT = "severe-liver-impairment"
    SEVERE_KIDNEY_IMPAIRMENT = "severe-kidney-impairment"
    IMMUNODEFICIENCY = "immunodeficiency"
    BLOOD_DYSCRASIA = "blood-dyscrasia"
    # current (or unknown-status) medicines, matched by `medicine_concerns` in comparators.yaml
    METHOTREXATE_USE = "methotrexate-use"
    TETRACYCLINE_USE = "tetracycline-use"


class ComparatorFlag(Strict):
    id: Slug
    concern: Concern
    severity: Literal["contraindicated", "caution", "info"]
    summary: str
    detail: str | None = None
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    caveat: str | None = None  # conflicting or missing evidence, said plainly
    # Not shown when one of these concerns is also present: a stronger flag of the same
    # comparator says it (e.g. 'impaired kidney function' under 'severely impaired').
    superseded_by: list[Concern] = Field(default_factory=list)


class OptionFact(Strict):
    """One cited line of an option's baseline (evidence, key risk, screening, monitoring).

    `text` is for the clinician; `plain` says the same for the patient's option grid.
    """

    text: str = Field(min_length=3)
    plain: str | None = None
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    caveat: str | None = None


class Comparator(Strict):
    id: Slug
    name: str
    drug_class: str
    kind: Literal["nonbiologic", "biologic"]
    # condition ids (conditions.yaml) this is a traditional systemic option for: the patient's
    # option grid shows it for these conditions only
    conditions: list[Slug] = Field(default_factory=list)
    plain_name: str | None = None  # what the patient's option grid calls it
    dosing: Statement | None = None
    boxed_warnings: list[Statement] = Field(default_factory=list)
    # the baseline every patient is shown, whether or not the record raises a flag
    evidence: OptionFact | None = None  # how good the evidence / recommendation is
    baseline_risks: list[OptionFact] = Field(default_factory=list)
    screening: list[OptionFact] = Field(default_factory=list)  # before starting
    monitoring: list[OptionFact] = Field(default_factory=list)  # during treatment
    flags: list[ComparatorFlag] = Field(default_factory=list)
    note: str | None = None


class MedicineConcern(Strict):
    """A comparator concern raised by a current medicine: by ingredient id or by name."""

    concern: Concern
    label: str  # e.g. "a tetracycline antibiotic"
    ingredients: list[Slug] = Field(default_factory=list)  # terminology ingredient ids
    # whole-word names matched in the medicine's text, for ingredients terminology lacks
    names: list[str] = Field(default_factory=list)
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty

    @model_validator(mode="after")
    def _something_to_match(self) -> MedicineConcern:
        if not self.ingredients and not self.names:
            raise ValueError("give 'ingredients' or 'names' to match")
        return self


class LdnFact(Strict):
    """A line of the LDN row, cited through the safety items it summarises."""

    text: str = Field(min_length=3)
    plain: str
    safety: list[Slug] = Field(min_length=1)  # safety.yaml ids whose references it carries


class LdnOption(Strict):
    """The LDN row of the comparison table (its evidence is counted from the evidence files)."""

    name: str
    plain_name: str
    drug_class: str
    baseline_risks: list[LdnFact] = Field(min_length=1)
    screening: list[LdnFact] = Field(default_factory=list)
    monitoring: list[LdnFact] = Field(min_length=1)


# ---------------------------------------------------------------- the whole base


class Meta(Strict):
    version: str = Field(pattern=r"^\d+\.\d+(\.\d+)?$")
    reviewed: date
    reviewers: list[str] = Field(default_factory=list)
    scope: str


# ---------------------------------------------------------------- pharmacokinetics


class PkParameter(Strict):
    """A model parameter with unit and provenance; `fitted` ones come from scripts/fit_pkpd.py."""

    id: Slug
    name: str
    value: float
    unit: str
    cv: float | None = Field(default=None, ge=0, le=3)  # between-subject CV (log-normal)
    # where the CV comes from: a reported SD, arithmetic on reported values, or an assumption
    cv_basis: Literal["reported", "derived", "assumption"] | None = None
    cv_note: str | None = None
    fitted: bool = False
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    note: str | None = None

    @model_validator(mode="after")
    def _cv_has_basis(self) -> PkParameter:
        if self.cv is not None and self.cv_basis is None:
            raise ValueError(f"parameter '{self.id}' has a CV but no cv_basis")
        return self


class CalibrationPoint(Strict):
    """A measured datum the simulator must reproduce (or a bound it must respect)."""

    id: Slug
    kind: Literal["occupancy", "blockade-half-time", "heroin-blockade"]
    dose_mg: float = Field(gt=0)
    time_h: float | None = Field(default=None, ge=0)
    value: float | None = None
    low: float | None = None
    high: float | None = None
    window_h: tuple[float, float] | None = None  # measured at an unknown time in this window
    tolerance: float | None = Field(default=None, gt=0)  # how far the model may be off
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    note: str | None = None


class PkpdParameters(Strict):
    parameters: list[PkParameter] = Field(default_factory=list)
    calibration: list[CalibrationPoint] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_statement_ids(self) -> PkpdParameters:
        _check_unique_ids(self.statements)
        return self

    def statement(self, statement_id: str) -> Statement:
        """The pharmacology statement with this id (KeyError if the data lacks it)."""
        return _statement_in(self.statements, statement_id)

    def value(self, ident: str) -> float:
        for p in self.parameters:
            if p.id == ident:
                return p.value
        raise KeyError(ident)


# ---------------------------------------------------------------- prescribing protocols


class TitrationProtocol(Strict):
    """A published starting dose and titration scheme, as the source reports it.

    Parameters the source does not report stay empty and are named in `missing`, so the
    program asks the prescriber for them instead of inventing them.
    """

    id: Slug
    name: str
    summary: str
    conditions: list[Slug] = Field(default_factory=list)  # where the scheme was used
    start_mg: float = Field(gt=0, le=1000)
    target_mg: float = Field(gt=0, le=1000)
    step_mg: float | None = Field(default=None, gt=0)
    interval_days: int | None = Field(default=None, ge=1, le=365)
    time: Literal["bedtime", "morning"] | None = None  # None: the source does not say
    missing: list[Literal["step_mg", "interval_days", "time"]] = Field(default_factory=list)
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    note: str | None = None
    caveat: str | None = None  # conflicting or negative evidence, said plainly
    follow_up: str | None = None  # the follow-up the source reports, e.g. "every 2-3 months"

    @model_validator(mode="after")
    def _complete_or_missing(self) -> TitrationProtocol:
        if self.start_mg > self.target_mg:
            raise ValueError(f"start {self.start_mg} mg is above target {self.target_mg} mg")
        for name in ("step_mg", "interval_days", "time"):
            given = getattr(self, name) is not None
            if given and name in self.missing:
                raise ValueError(f"'{name}' is given but also listed as missing")
            titrates = self.start_mg < self.target_mg
            if not given and name not in self.missing and (titrates or name == "time"):
                raise ValueError(f"'{name}' is not given: list it under 'missing'")
        return self


class StabilityFinding(Strict):
    """A measured stability of a compounded form: the basis of a beyond-use date."""

    id: Slug
    form: Literal["capsule", "liquid"]
    days: int = Field(ge=1)
    storage: str  # e.g. "room temperature, protected from light"
    preparation: str  # what was tested (filler, vehicle, strength)
    filler: str | None = None  # capsules: the filler tested (the finding holds for it only)
    concentration_mg_per_ml: float | None = Field(default=None, gt=0)  # liquids: as tested
    refs: list[RefId] = Field(min_length=1)
    certainty: Certainty
    caveat: str | None = None
    storage_id: Literal["refrigerated", "room-temperature"] | None = None  # liquids
    vehicle: str | None = None  # liquids: the vehicle of the tested preparation
    vehicle_refs: list[RefId] = Field(default_factory=list)
    vehicle_certainty: Certainty | None = None
    container: str | None = None  # e.g. "amber plastic bottle"

    @model_validator(mode="after")
    def _vehicle_cited(self) -> StabilityFinding:
        if self.vehicle and not (self.vehicle_refs and self.vehicle_certainty):
            raise ValueError("a vehicle needs vehicle_refs and vehicle_certainty")
        if self.form == "liquid" and self.storage_id is None:
            raise ValueError("a liquid stability finding needs storage_id")
        return self


class Convention(Strict):
    """A number the program uses: cited (refs + certainty) or a stated program convention."""

    value: float
    basis: str = Field(min_length=3)
    refs: list[RefId] = Field(default_factory=list)
    certainty: Certainty | None = None

    @model_validator(mode="after")
    def _cited_or_convention(self) -> Convention:
        if bool(self.refs) != (self.certainty is not None):
            raise ValueError("a cited value needs refs and certainty; a convention neither")
        return self


class DoseRules(Strict):
    """Limits the prescribing checks use beyond the drug's dose ranges."""

    titration_floor_mg: Convention  # lowest dose accepted as a titration step below the range
    concentration_low_mg_per_ml: Convention
    concentration_high_mg_per_ml: Convention
    max_dose_volume_ml: Convention  # largest single liquid dose
    fill_days_without_bud: dict[Literal["capsule", "liquid"], Convention]


class OverrideOptionText(Strict):
    id: Literal["contraindication", "above-low-dose", "opioid-free-interval", "evidence"]
    title: str
    what: str


class OverrideRules(Strict):
    """What makes an override reason meaningful (a program convention) and what each option
    overrides."""

    min_words: int = Field(ge=1)
    min_letters: int = Field(ge=1)
    placeholders: list[str] = Field(default_factory=list)
    basis: str
    options: list[OverrideOptionText] = Field(min_length=1)


class CompoundingFacts(Strict):
    """Cited facts the compounding arithmetic and the beyond-use dates rest on."""

    molar_mass_base: float = Field(gt=0)  # g/mol, naltrexone base
    molar_mass_hcl: float = Field(gt=0)  # g/mol, naltrexone hydrochloride
    molar_mass_refs: list[RefId] = Field(min_length=1)
    stability: list[StabilityFinding] = Field(default_factory=list)
    statements: list[MonographSection] = Field(default_factory=list)


class Protocols(Strict):
    protocols: list[TitrationProtocol] = Field(min_length=1)
    compounding: CompoundingFacts
    dose_rules: DoseRules
    overrides: OverrideRules
    # follow-up for a condition no protocol reports one for: said plainly, never borrowed
    follow_up_not_established: str = Field(min_length=3)
