"""The knowledge base's records: frozen dataclasses, one per kind of entry in the data files.

Every clinical statement carries `refs` (reference ids) and a `certainty` saying how the fact
was extracted, so that the program can always show where a statement comes from and how sure it
is. Field names are the YAML keys.

These are plain dataclasses, not pydantic models: the core reads them in every `ldn` command and
every request, and importing pydantic and building ~40 model classes cost more than everything
else `ldn assess` does. Pydantic still validates the YAML, at the boundary: `knowledge.loader`
runs each file through a `pydantic.TypeAdapter` of these classes, which reads the constraints
written here (`annotated_types` markers in the annotations, `__pydantic_config__` for unknown
keys and whitespace, `__post_init__` for checks across fields). A typo in a data file is an
error that names the file, the entry and the field.

Only `__init__` is generated per class: immutability and `repr` are written once, in `Strict`,
and records compare by identity (each is one object of the one loaded knowledge base;
`as_data(a) == as_data(b)` compares two by value). Generating frozen-dataclass methods and value
equality for ~40 classes took more than half of this module's import time (about 35 of 55 ms
here), which every `ldn` command pays.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, MinLen, Predicate

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def is_slug(text: str) -> bool:
    """Lower-case letters, digits and hyphens, starting with a letter or digit."""
    return _SLUG.fullmatch(text) is not None


def is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def is_pmid(text: str) -> bool:
    return is_digits(text) and 5 <= len(text) <= 9


def is_doi(text: str) -> bool:
    return re.fullmatch(r"10\.\d{4,9}/\S+", text) is not None


def is_csv_file_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9._-]+\.csv", text) is not None


def is_version(text: str) -> bool:
    return re.fullmatch(r"\d+\.\d+(\.\d+)?", text) is not None


RefId = Annotated[str, Predicate(is_slug)]
Slug = Annotated[str, Predicate(is_slug)]
RxCui = Annotated[str, Predicate(is_digits)]
Text3 = Annotated[str, MinLen(3)]
Positive = Annotated[float, Gt(0)]
Dose = Annotated[float, Gt(0), Le(1000)]

# What pydantic reads when the loader validates a data file (see the module doc).
_STRICT = {"extra": "forbid", "str_strip_whitespace": True}


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

    @property
    def source_read(self) -> str:
        """What was read, in words ("article", "drug label"...). The field records how a fact
        was read (its provenance), not the certainty of the evidence in the GRADE sense."""
        return PROVENANCE[self.value]


# Certainty value -> what was read, as the CLI and the web show it ("Source read").
PROVENANCE = {
    "seen-article": "article",
    "seen-abstract": "abstract",
    "seen-label": "drug label",
    "secondary": "secondary source",
    "recalled": "recalled, unverified",
    "derived": "derived (calculation)",
}


def as_data(obj: object) -> Any:
    """A record (or a list or dict of them) as JSON-ready data: dicts in field order, enums as
    their values, dates as ISO strings, tuples and sets as lists (sets sorted)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, date | datetime):
        return obj.isoformat()
    if isinstance(obj, list | tuple):
        return [as_data(item) for item in obj]
    if isinstance(obj, set | frozenset):
        return sorted(as_data(item) for item in obj)
    if isinstance(obj, dict):
        return {str(as_data(key)): as_data(value) for key, value in obj.items()}
    return obj


class Strict:
    """Base of every record: unknown keys are errors, strings are stripped (when validated);
    a field is set once, when the record is built, and never again (as a frozen dataclass,
    but with these methods written once here instead of generated for every class)."""

    __pydantic_config__ = _STRICT

    def __setattr__(self, name: str, value: object) -> None:
        fields: dict[str, object] = getattr(type(self), "__dataclass_fields__", {})
        if name in self.__dict__ or name not in fields:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field '{name}'")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field '{name}'")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        )
        return f"{type(self).__name__}({shown})"


@dataclass(kw_only=True, eq=False, repr=False)
class Reference(Strict):
    """A source the knowledge base cites (references/*.yaml)."""

    id: RefId
    authors: str | None = None
    title: str
    journal: str | None = None
    year: Annotated[int, Ge(1900), Le(2100)] | None = None
    citation: str | None = None  # volume(issue):pages
    pmid: Annotated[str, Predicate(is_pmid)] | None = None
    doi: Annotated[str, Predicate(is_doi)] | None = None
    url: str | None = None
    certainty: Certainty
    unverified: list[str] = field(
        default_factory=list
    )  # Fields of this record that were recalled, not seen (e.g. pmid, authors).
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


@dataclass(kw_only=True, eq=False, repr=False)
class Statement(Strict):
    """One cited clinical statement."""

    id: Slug | None = None  # a handle for the few statements the program quotes elsewhere
    text: Text3
    refs: Annotated[list[RefId], MinLen(1)]
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


def _single_value(data: object) -> object:
    if isinstance(data, dict) and "value" in data:
        data = dict(data)
        value = data.pop("value")
        data.setdefault("low", value)
        data.setdefault("high", value)
    return data


@dataclass(kw_only=True, eq=False, repr=False)
class DoseRange(Strict):
    """A daily oral dose in mg/day; `low == high` for a fixed dose."""

    low: Dose
    high: Dose
    unit: Literal["mg/day"]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """When validated: `value: 4.5` is short for `low: 4.5, high: 4.5`."""
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(_single_value, handler(source))

    def __post_init__(self) -> None:  # checked when built: ordered
        if self.low > self.high:
            raise ValueError(f"dose low ({self.low}) is above high ({self.high})")

    def label(self) -> str:
        def fmt(x: float) -> str:
            return f"{x:g}"

        if self.low == self.high:
            return f"{fmt(self.low)} mg/day"
        return f"{fmt(self.low)}–{fmt(self.high)} mg/day"


# ---------------------------------------------------------------- conditions & terminology


@dataclass(kw_only=True, eq=False, repr=False)
class Coding(Strict):
    """One code of a condition or lab, with whether and where it was verified."""

    code: str
    display: str | None = None
    verified: bool
    source: str | None = None  # where the code was verified (or found)
    # True when the code is used as it stood in an OLDER code-set release (named in `source`),
    # which the bundled checker cannot confirm, e.g. L66.1 as a billable leaf before its split.
    legacy: bool = False


@dataclass(kw_only=True, eq=False, repr=False)
class Condition(Strict):
    """A dermatological condition LDN has been reported for (conditions.yaml)."""

    id: Slug
    name: str
    group: str | None = None  # e.g. "pruritus"
    icd10cm: list[Coding] = field(default_factory=list)
    snomed: list[Coding] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    note: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class Ingredient(Strict):
    """A drug ingredient with its RxNorm ingredient RxCUI and the classes rules care about."""

    id: Slug
    name: str
    rxcui: RxCui | None = None
    rxcui_verified: bool = False
    classes: list[str] = field(default_factory=list)  # e.g. opioid, opioid-agonist-therapy
    synonyms: list[str] = field(default_factory=list)  # salt forms, spellings
    refs: list[RefId] = field(default_factory=list)
    note: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class Product(Strict):
    """A brand or combination product named by text; opioid if any ingredient is."""

    name: str
    ingredients: Annotated[list[Slug], MinLen(1)]
    rxcui: RxCui | None = None
    rxcui_verified: bool = False
    aliases: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # product-level, e.g. opioid-antitussive
    # Strength of one unit (tablet, capsule, mL of liquid, vial) of the main ingredient, for
    # reading a dose written as a count of units ("1 tablet" of a 50 mg product).
    strength_mg: Positive | None = None
    unit: str | None = None  # what one unit is: tablet, capsule, mL, vial
    source: str | None = None  # where the composition / RxCUI was seen
    refs: list[RefId] = field(default_factory=list)
    note: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class LabThreshold(Strict):
    """A cut-off that makes a lab result count as evidence of a clinical concept."""

    concept: Slug  # id of a ClinicalConcept in the same terminology file
    at_least: float | None = None  # result >= at_least counts
    below: float | None = None  # result < below counts
    units: Annotated[list[str], MinLen(1)]  # units the cut-off is written in (others skipped)
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    caveat: str | None = None

    def __post_init__(self) -> None:  # checked when built: one bound
        if (self.at_least is None) == (self.below is None):
            raise ValueError("give exactly one of 'at_least' or 'below'")


@dataclass(kw_only=True, eq=False, repr=False)
class LabCode(Strict):
    """A laboratory test the rules read, by LOINC code, with its cut-offs."""

    id: Slug
    name: str
    loinc: Annotated[list[Coding], MinLen(1)]
    unit: str | None = None
    thresholds: list[LabThreshold] = field(default_factory=list)


@dataclass(kw_only=True, eq=False, repr=False)
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
    icd10cm: list[Coding] = field(default_factory=list)
    snomed: list[Coding] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    exclude_text: list[str] = field(default_factory=list)
    note: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class RuleParameter(Strict):
    """A number an assessment rule needs (a window in days, an age), with where it comes from.

    A cited parameter has `refs` and a `certainty`; a program convention has neither and says
    so in `basis`.
    """

    id: Slug
    value: float
    unit: Literal["days", "years"]
    basis: Text3
    refs: list[RefId] = field(default_factory=list)
    certainty: Certainty | None = None

    def __post_init__(self) -> None:  # checked when built: cited or convention
        if bool(self.refs) != (self.certainty is not None):
            raise ValueError("a cited parameter needs refs and certainty; a convention neither")


@dataclass(kw_only=True, eq=False, repr=False)
class CodeTable(Strict):
    """A table of RxNorm drug codes and their ingredients, loaded from a CSV in data/codes/.

    Rows name ingredients by RxCUI; each must be an ingredient of this file with that RxCUI.
    """

    id: Slug
    file: Annotated[str, Predicate(is_csv_file_name)]
    title: str
    generated: date  # the date the table's content was generated: codes after it are unknown
    classes: list[str] = field(default_factory=list)  # what the table asserts about its rows
    refs: Annotated[list[RefId], MinLen(1)]
    note: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class Terminology(Strict):
    """terminology.yaml: ingredients, products, code tables, labs, concepts, parameters."""

    ingredients: list[Ingredient]
    code_tables: list[CodeTable] = field(default_factory=list)
    rxnorm_dose_forms: list[str] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    labs: list[LabCode] = field(default_factory=list)
    concepts: list[ClinicalConcept] = field(default_factory=list)
    parameters: list[RuleParameter] = field(default_factory=list)
    negation_phrases: list[str] = field(
        default_factory=list
    )  # Text that stops a free-text condition match.
    decisions: list[Statement] = field(
        default_factory=list
    )  # Documented classification decisions, e.g. loperamide.

    def __post_init__(self) -> None:  # checked when built: links
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


@dataclass(kw_only=True, eq=False, repr=False)
class EvidenceEntry(Strict):
    """One study of naltrexone in a condition (evidence/*.yaml)."""

    id: Slug
    condition: Slug
    study: str  # short human label, e.g. "Albers 2017"
    design: Design
    n: Annotated[int, Ge(1)] | None = None
    dose: DoseRange | None = None
    dose_note: str | None = None  # why the dose is missing or uncertain
    duration: str | None = None
    outcome: Outcome
    effect: str
    measures: list[str] = field(default_factory=list)  # PASI, BSA, LPPAI, VAS, NRS...
    time_to_response: str | None = None
    adverse_events: str | None = None
    # what naltrexone was given WITH (an add-on or combination study), so that the result is
    # never read as naltrexone alone; None when the source reports monotherapy or does not say
    add_on_to: str | None = None
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    conflicts: str | None = None  # where another source disagrees, and which

    def __post_init__(self) -> None:  # checked when built: dose or reason
        if self.dose is None and not self.dose_note:
            raise ValueError("an entry without a dose needs a dose_note saying why")


# ---------------------------------------------------------------- drug monograph


@dataclass(kw_only=True, eq=False, repr=False)
class Frequency(Strict):
    """How often an adverse effect was reported, as the source gives it."""

    text: str  # e.g. "37% of participants"
    events: Annotated[int, Ge(0)] | None = None
    total: Annotated[int, Ge(1)] | None = None
    percent: Annotated[float, Ge(0), Le(100)] | None = None
    population: str | None = None  # e.g. "4.5 mg/day, psoriasis series"

    def __post_init__(self) -> None:  # checked when built: consistent
        if self.events is not None and self.total is not None and self.events > self.total:
            raise ValueError(f"{self.events} events out of {self.total} is impossible")


class SafetyKind(StrEnum):
    ADVERSE_EFFECT = "adverse-effect"
    CONTRAINDICATION = "contraindication"
    CAUTION = "caution"
    INTERACTION = "interaction"
    MONITORING = "monitoring"


@dataclass(kw_only=True, eq=False, repr=False)
class SafetyItem(Strict):
    """An adverse effect, contraindication, caution, interaction or monitoring item."""

    id: Slug
    kind: SafetyKind
    title: str
    text: str
    dose_context: Literal["low-dose", "standard-dose", "any"] = "any"
    frequency: list[Frequency] = field(default_factory=list)
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    caveat: str | None = None
    section: Slug | None = None  # monograph section when not the one its kind implies


@dataclass(kw_only=True, eq=False, repr=False)
class MonographSection(Strict):
    """A section of the drug monograph: cited statements under one title."""

    id: Slug
    title: str
    statements: Annotated[list[Statement], MinLen(1)]


@dataclass(kw_only=True, eq=False, repr=False)
class LowDoseRange(Strict):
    """A low-dose range as one source states it."""

    range: DoseRange
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty


@dataclass(kw_only=True, eq=False, repr=False)
class Drug(Strict):
    """drug.yaml: naltrexone's doses and the monograph sections."""

    name: str
    ingredient: Slug  # id in terminology
    standard_dose: DoseRange
    standard_dose_refs: Annotated[list[RefId], MinLen(1)]
    low_dose_ranges: Annotated[list[LowDoseRange], MinLen(1)]
    canonical_low_dose: DoseRange  # the range the program uses; must lie inside a cited range
    sections: Annotated[list[MonographSection], MinLen(1)]

    def __post_init__(self) -> None:  # checked when built: unique statement ids
        _check_unique_ids([st for sec in self.sections for st in sec.statements])

    def statement(self, statement_id: str) -> Statement:
        """The monograph statement with this id (KeyError if the data lacks it)."""
        return _statement_in([st for sec in self.sections for st in sec.statements], statement_id)


# ---------------------------------------------------------------- comparators


class Concern(StrEnum):
    """Patient facts a comparator flag reacts to (the assessment matches on these)."""

    PREGNANCY = "pregnancy"
    LACTATION = "lactation"  # from the derived breastfeeding status
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


@dataclass(kw_only=True, eq=False, repr=False)
class ComparatorFlag(Strict):
    """What a patient fact (a concern) means for a comparator therapy."""

    id: Slug
    concern: Concern
    severity: Literal["contraindicated", "caution", "info"]
    summary: str
    detail: str | None = None
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    caveat: str | None = None  # conflicting or missing evidence, said plainly
    # Not shown when one of these concerns is also present: a stronger flag of the same
    # comparator says it (e.g. 'impaired kidney function' under 'severely impaired').
    superseded_by: list[Concern] = field(default_factory=list)


@dataclass(kw_only=True, eq=False, repr=False)
class OptionFact(Strict):
    """One cited line of an option's baseline (evidence, key risk, screening, monitoring).

    `text` is for the clinician; `plain` says the same for the patient's option grid.
    """

    text: Text3
    plain: str | None = None
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    caveat: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class Comparator(Strict):
    """A traditional systemic therapy LDN is compared with (comparators.yaml)."""

    id: Slug
    name: str
    drug_class: str
    kind: Literal["nonbiologic", "biologic"]
    # condition ids (conditions.yaml) this is a traditional systemic option for: the patient's
    # option grid shows it for these conditions only
    conditions: list[Slug] = field(default_factory=list)
    plain_name: str | None = None  # what the patient's option grid calls it
    dosing: Statement | None = None
    boxed_warnings: list[Statement] = field(default_factory=list)
    # the baseline every patient is shown, whether or not the record raises a flag
    evidence: OptionFact | None = None  # how good the evidence / recommendation is
    baseline_risks: list[OptionFact] = field(default_factory=list)
    screening: list[OptionFact] = field(default_factory=list)  # before starting
    monitoring: list[OptionFact] = field(default_factory=list)  # during treatment
    flags: list[ComparatorFlag] = field(default_factory=list)
    note: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class MedicineConcern(Strict):
    """A comparator concern raised by a current medicine: by ingredient id or by name."""

    concern: Concern
    label: str  # e.g. "a tetracycline antibiotic"
    ingredients: list[Slug] = field(default_factory=list)  # terminology ingredient ids
    # whole-word names matched in the medicine's text, for ingredients terminology lacks
    names: list[str] = field(default_factory=list)
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty

    def __post_init__(self) -> None:  # checked when built: something to match
        if not self.ingredients and not self.names:
            raise ValueError("give 'ingredients' or 'names' to match")


@dataclass(kw_only=True, eq=False, repr=False)
class LdnFact(Strict):
    """A line of the LDN row, cited through the safety items it summarises."""

    text: Text3
    plain: str
    safety: Annotated[list[Slug], MinLen(1)]  # safety.yaml ids whose references it carries


@dataclass(kw_only=True, eq=False, repr=False)
class LdnOption(Strict):
    """The LDN row of the comparison table (its evidence is counted from the evidence files)."""

    name: str
    plain_name: str
    drug_class: str
    baseline_risks: Annotated[list[LdnFact], MinLen(1)]
    screening: list[LdnFact] = field(default_factory=list)
    monitoring: Annotated[list[LdnFact], MinLen(1)]


# ---------------------------------------------------------------- the whole base


@dataclass(kw_only=True, eq=False, repr=False)
class Meta(Strict):
    """meta.yaml: the knowledge base's version, review date and scope."""

    version: Annotated[str, Predicate(is_version)]
    reviewed: date
    reviewers: list[str] = field(default_factory=list)
    scope: str


# ---------------------------------------------------------------- pharmacokinetics


@dataclass(kw_only=True, eq=False, repr=False)
class PkParameter(Strict):
    """A model parameter with unit and provenance; `fitted` ones come from scripts/fit_pkpd.py."""

    id: Slug
    name: str
    value: float
    unit: str
    cv: Annotated[float, Ge(0), Le(3)] | None = None  # between-subject CV (log-normal)
    # where the CV comes from: a reported SD, arithmetic on reported values, or an assumption
    cv_basis: Literal["reported", "derived", "assumption"] | None = None
    cv_note: str | None = None
    fitted: bool = False
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    note: str | None = None

    def __post_init__(self) -> None:  # checked when built: cv has basis
        if self.cv is not None and self.cv_basis is None:
            raise ValueError(f"parameter '{self.id}' has a CV but no cv_basis")


@dataclass(kw_only=True, eq=False, repr=False)
class CalibrationPoint(Strict):
    """A measured datum the simulator must reproduce (or a bound it must respect)."""

    id: Slug
    kind: Literal["occupancy", "blockade-half-time", "heroin-blockade"]
    dose_mg: Positive
    time_h: Annotated[float, Ge(0)] | None = None
    value: float | None = None
    low: float | None = None
    high: float | None = None
    window_h: tuple[float, float] | None = None  # measured at an unknown time in this window
    tolerance: Positive | None = None  # how far the model may be off
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    note: str | None = None


@dataclass(kw_only=True, eq=False, repr=False)
class PkpdParameters(Strict):
    """pkpd.yaml: model parameters, calibration data and pharmacology statements."""

    parameters: list[PkParameter] = field(default_factory=list)
    calibration: list[CalibrationPoint] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)

    def __post_init__(self) -> None:  # checked when built: unique statement ids
        _check_unique_ids(self.statements)

    def statement(self, statement_id: str) -> Statement:
        """The pharmacology statement with this id (KeyError if the data lacks it)."""
        return _statement_in(self.statements, statement_id)

    def value(self, ident: str) -> float:
        for p in self.parameters:
            if p.id == ident:
                return p.value
        raise KeyError(ident)


# ---------------------------------------------------------------- prescribing protocols


@dataclass(kw_only=True, eq=False, repr=False)
class TitrationProtocol(Strict):
    """A published starting dose and titration scheme, as the source reports it.

    Parameters the source does not report stay empty and are named in `missing`, so the
    program asks the prescriber for them instead of inventing them.
    """

    id: Slug
    name: str
    summary: str
    conditions: list[Slug] = field(default_factory=list)  # where the scheme was used
    start_mg: Dose
    target_mg: Dose
    step_mg: Positive | None = None
    interval_days: Annotated[int, Ge(1), Le(365)] | None = None
    time: Literal["bedtime", "morning"] | None = None  # None: the source does not say
    missing: list[Literal["step_mg", "interval_days", "time"]] = field(default_factory=list)
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    note: str | None = None
    caveat: str | None = None  # conflicting or negative evidence, said plainly
    follow_up: str | None = None  # the follow-up the source reports, e.g. "every 2-3 months"

    def __post_init__(self) -> None:  # checked when built: complete or missing
        if self.start_mg > self.target_mg:
            raise ValueError(f"start {self.start_mg} mg is above target {self.target_mg} mg")
        for name in ("step_mg", "interval_days", "time"):
            given = getattr(self, name) is not None
            if given and name in self.missing:
                raise ValueError(f"'{name}' is given but also listed as missing")
            titrates = self.start_mg < self.target_mg
            if not given and name not in self.missing and (titrates or name == "time"):
                raise ValueError(f"'{name}' is not given: list it under 'missing'")


@dataclass(kw_only=True, eq=False, repr=False)
class StabilityFinding(Strict):
    """A measured stability of a compounded form: the basis of a beyond-use date."""

    id: Slug
    form: Literal["capsule", "liquid"]
    days: Annotated[int, Ge(1)]
    storage: str  # e.g. "room temperature, protected from light"
    preparation: str  # what was tested (filler, vehicle, strength)
    filler: str | None = None  # capsules: the filler tested (the finding holds for it only)
    concentration_mg_per_ml: Positive | None = None  # liquids: as tested
    refs: Annotated[list[RefId], MinLen(1)]
    certainty: Certainty
    caveat: str | None = None
    storage_id: Literal["refrigerated", "room-temperature"] | None = None  # liquids
    vehicle: str | None = None  # liquids: the vehicle of the tested preparation
    vehicle_refs: list[RefId] = field(default_factory=list)
    vehicle_certainty: Certainty | None = None
    container: str | None = None  # e.g. "amber plastic bottle"

    def __post_init__(self) -> None:  # checked when built: vehicle cited
        if self.vehicle and not (self.vehicle_refs and self.vehicle_certainty):
            raise ValueError("a vehicle needs vehicle_refs and vehicle_certainty")
        if self.form == "liquid" and self.storage_id is None:
            raise ValueError("a liquid stability finding needs storage_id")


@dataclass(kw_only=True, eq=False, repr=False)
class Convention(Strict):
    """A number the program uses: cited (refs + certainty) or a stated program convention."""

    value: float
    basis: Text3
    refs: list[RefId] = field(default_factory=list)
    certainty: Certainty | None = None

    def __post_init__(self) -> None:  # checked when built: cited or convention
        if bool(self.refs) != (self.certainty is not None):
            raise ValueError("a cited value needs refs and certainty; a convention neither")


@dataclass(kw_only=True, eq=False, repr=False)
class DoseRules(Strict):
    """Limits the prescribing checks use beyond the drug's dose ranges."""

    titration_floor_mg: Convention  # lowest dose accepted as a titration step below the range
    concentration_low_mg_per_ml: Convention
    concentration_high_mg_per_ml: Convention
    max_dose_volume_ml: Convention  # largest single liquid dose
    fill_days_without_bud: dict[Literal["capsule", "liquid"], Convention]


@dataclass(kw_only=True, eq=False, repr=False)
class OverrideOptionText(Strict):
    """What one override option goes past, in words for the prescriber."""

    id: Literal["contraindication", "above-low-dose", "opioid-free-interval", "evidence"]
    title: str
    what: str


@dataclass(kw_only=True, eq=False, repr=False)
class NotOverridable(Strict):
    """A contraindication no override lifts: the record must be corrected (or the right one
    opened) before anything is prescribed."""

    code: Slug  # an assessment finding code (docs/assessment.md)
    why: Text3


@dataclass(kw_only=True, eq=False, repr=False)
class OverrideRules(Strict):
    """What makes an override reason meaningful (a program convention) and what each option
    overrides."""

    min_words: Annotated[int, Ge(1)]
    min_letters: Annotated[int, Ge(1)]
    placeholders: list[str] = field(default_factory=list)
    basis: str
    options: Annotated[list[OverrideOptionText], MinLen(1)]
    not_overridable: list[NotOverridable] = field(default_factory=list)


@dataclass(kw_only=True, eq=False, repr=False)
class CompoundingFacts(Strict):
    """Cited facts the compounding arithmetic and the beyond-use dates rest on."""

    molar_mass_base: Positive  # g/mol, naltrexone base
    molar_mass_hcl: Positive  # g/mol, naltrexone hydrochloride
    molar_mass_refs: Annotated[list[RefId], MinLen(1)]
    stability: list[StabilityFinding] = field(default_factory=list)
    statements: list[MonographSection] = field(default_factory=list)


@dataclass(kw_only=True, eq=False, repr=False)
class Protocols(Strict):
    """protocols.yaml: titration protocols, compounding facts and prescribing rules."""

    protocols: Annotated[list[TitrationProtocol], MinLen(1)]
    compounding: CompoundingFacts
    dose_rules: DoseRules
    overrides: OverrideRules
    # follow-up for a condition no protocol reports one for: said plainly, never borrowed
    follow_up_not_established: Text3
