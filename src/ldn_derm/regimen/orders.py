"""Draft orders (CDS Hooks `draftOrders`): which are LDN orders, what dose they give, what to say.

One reading for every adapter: the CDS services render the `OrderAdvice` returned here as cards.

- The medication comes from `medicationCodeableConcept` or `medicationReference` (contained, in
  the draft Bundle, or among the prefetched records) and is identified by the one drug matcher
  (`patient.terminology`), by whole ingredient identity: an order is an LDN-type order only when
  its product's ingredients are exactly {naltrexone}. Methylnaltrexone, naloxegol, naltrexone
  with bupropion or with morphine are other drugs: no LDN advice is given about them.
- Every other draft order in the Bundle is one of the patient's medicines: it goes, with the
  prefetched records, through the same profile and assessment as any record (an oxycodone draft
  next to an LDN draft gives the opioid contraindication).
- The daily dose is read from `doseQuantity` (a mass, or a count of units × the product's
  strength), `doseRange` (its upper bound) or the dosage text, through the pint-based parser of
  `regimen.dose`; a dose that cannot be read is said to be unread, never assumed fine.
- A dose outside the low-dose range gets a suggestion that replaces the whole order with the
  compounded low-dose MedicationRequest the prescribing module writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ldn_derm.assess.models import Assessment, Finding, Severity
from ldn_derm.errors import LdnError
from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.patient.fhir import OTHER_PATIENT_REASON, medication_keys, medication_of
from ldn_derm.patient.profile import Code
from ldn_derm.patient.terminology import DrugMatch, matcher_for, norm
from ldn_derm.regimen.dose import fmt_mg, parse_quantity, slip_hint
from ldn_derm.regimen.schedule import DoseTime, Regimen

Resource = dict[str, Any]

# Findings of the assessment that a draft naltrexone order must show besides contraindications:
# the ones about the patient's medicines (every opioid code contains 'opioid').
MEDICINE_CAUTION_CODES = ("medication-unchecked", "naltrexone-duplicate", "naltrexone-interaction")

DOSE_UNREADABLE = "ldn-dose-unreadable"
DOSE_OUTSIDE = "ldn-dose-outside-low-dose-range"
PLAN = "ldn-titration-and-monitoring"
RECORD_INCOMPLETE = "medication-record-incomplete"
ORDER_MEDICINE_UNKNOWN = "order-medicine-not-identified"
RECORD_OTHER_PATIENT = "record-other-patient"

# FHIR periodUnit (UCUM) -> periods per day
_PER_DAY = {"d": 1.0, "h": 24.0, "min": 1440.0, "s": 86400.0, "wk": 1 / 7, "mo": 1 / 30,
            "a": 1 / 365}  # fmt: skip
_DURATION_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7}
# HL7 TimingAbbreviation codes (timing.code) -> administrations per day
_TIMING_CODES = {"QD": 1.0, "BID": 2.0, "TID": 3.0, "QID": 4.0, "QOD": 0.5, "AM": 1.0,
                 "PM": 1.0, "BED": 1.0, "WK": 1 / 7, "Q4H": 6.0, "Q6H": 4.0, "Q8H": 3.0,
                 "Q12H": 2.0}  # fmt: skip
# How a sig states the frequency, in words (first match wins) -> administrations per day
_TEXT_FREQUENCY: tuple[tuple[re.Pattern[str], float | None], ...] = tuple(
    (re.compile(p), f)
    for p, f in (
        (r"\bevery other day\b|\bqod\b|\balternate days\b", 0.5),
        (r"\b(twice|two times|2 times)( a| per| each)? ?(day|daily)\b|\bbid\b|\bb i d\b", 2.0),
        (r"\b(three|3) times( a| per| each)? ?(day|daily)\b|\btid\b", 3.0),
        (r"\b(four|4) times( a| per| each)? ?(day|daily)\b|\bqid\b", 4.0),
        (r"\bevery (\d+) hours?\b|\bq ?(\d+) ?h\b", None),  # 24 / hours
        (r"\bweekly\b|\b(once )?(a|per|each|every) week\b", 1 / 7),
        (
            r"\b(once|one time|1 time)( a| per| each)? ?(day|daily)\b|\bdaily\b|\bevery day\b"
            r"|\beach day\b|\bqd\b|\bnightly\b|\bat bedtime\b|\bqhs\b|\bevery (night|evening"
            r"|morning)\b|\bat night\b|\bin the (morning|evening)\b|\bonce\b",
            1.0,
        ),
    )
)
# (a number right after a comma or a point is not read: "0,3 mg" is a decimal comma, and
# reading "3 mg" from it would be ten times the dose; such text is reported as unread)
_MASS_TEXT = re.compile(
    r"(?<![\w.,])(-?\d+(?:\.\d+)?|-?\.\d+)\s*(mg|mcg|µg|μg|ug|micrograms?|milligrams?|grams?|g)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {"one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "half": 0.5, "a half": 0.5}
# unit words for a count of dose units, normalised to the terminology's `unit` names
_UNIT_WORDS = {"tablet": "tablet", "tab": "tablet", "tbl": "tablet", "capsule": "capsule",
               "cap": "capsule", "vial": "vial", "kit": "kit"}  # fmt: skip
_COUNT_TEXT = re.compile(
    r"(?<![\w.,])(-?\d+(?:\.\d+)?|one|two|three|four|a half|half)\s*"
    r"(tablets?|tabs?|tbls?|capsules?|caps?|vials?)\b",
    re.IGNORECASE,
)
_STRENGTH_IN_NAME = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg|g)\b(?!\s*/)", re.IGNORECASE)
_WHEN = {"HS": DoseTime.BEDTIME, "NIGHT": DoseTime.BEDTIME, "MORN": DoseTime.MORNING,
         "ACM": DoseTime.MORNING}  # fmt: skip


# ====================================================================== reading the orders


@dataclass(frozen=True)
class Strength:
    """The strength of one unit of a product (for doses written as a count of units)."""

    mg: Decimal
    unit: str | None  # tablet, capsule, vial...; None: not stated
    source: str  # where it was read: "knowledge base" or "product name"


@dataclass(frozen=True)
class DraftOrder:
    """One MedicationRequest of the draft Bundle, with the drug it names."""

    ref: str  # "MedicationRequest/id" (or "#n" when it has no id)
    resource: Resource
    name: str
    match: DrugMatch
    strength: Strength | None
    ldn_type: bool  # the product's ingredients are exactly {naltrexone}
    named: bool = True  # False: no code and no name of the medicine could be read at all


@dataclass(frozen=True)
class StepDose:
    """What one dosageInstruction gives: mg a day, or why that could not be read."""

    index: int  # 1-based position in dosageInstruction
    mg_per_day: Decimal | None
    read_as: str  # how it was read, or what was written
    problem: str | None = None
    days: int | None = None  # the step's length, when its bounds say
    when: DoseTime | None = None


@dataclass(frozen=True)
class Suggestion:
    label: str
    description: str
    resource: Resource  # the replacement MedicationRequest


@dataclass(frozen=True)
class OrderAdvice:
    """A finding about a draft order (or the patient it is for), ready to render."""

    finding: Finding
    order: str | None = None  # the draft order's ref
    condition: str | None = None  # the LDN indication it is judged against
    suggestion: Suggestion | None = None


def bundle_resources(bundle: Any) -> list[tuple[Resource, str | None]]:
    """(resource, fullUrl) of each entry of a Bundle; anything malformed is skipped."""
    if not isinstance(bundle, dict):
        return []
    entries = bundle.get("entry")
    out: list[tuple[Resource, str | None]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            url = entry.get("fullUrl")
            out.append((resource, url if isinstance(url, str) else None))
    return out


def _medication_index(
    drafts: Sequence[tuple[Resource, str | None]], records: Iterable[Resource]
) -> dict[str, Resource]:
    index: dict[str, Resource] = {}
    for resource, url in [*drafts, *((r, None) for r in records)]:
        if resource.get("resourceType") == "Medication":
            for key in medication_keys(resource, url):
                index.setdefault(key, resource)
    return index


def _ref(resource: Resource, position: int) -> str:
    ident = resource.get("id")
    kind = str(resource.get("resourceType"))
    return f"{kind}/{ident}" if isinstance(ident, str) and ident else f"{kind}/#{position}"


def read_draft_orders(
    draft_bundle: Any, records: Iterable[Resource] = (), kb: KnowledgeBase | None = None
) -> list[DraftOrder]:
    """Every MedicationRequest in the draft Bundle with the drug it names (unreadable ones are
    kept with an empty match: they are not LDN orders, and stay among the patient's medicines)."""
    kb = kb or get_knowledge()
    matcher = matcher_for(kb)
    drafts = bundle_resources(draft_bundle)
    medications = _medication_index(drafts, records)
    out: list[DraftOrder] = []
    for position, (resource, _) in enumerate(drafts, 1):
        if resource.get("resourceType") != "MedicationRequest":
            continue
        try:
            codes, texts = medication_of(resource, medications, kb=kb)
        except LdnError:
            codes, texts = (), []
        match = matcher.match_drug(codes, texts)
        ldn = match.recognised and match.ingredients == frozenset({kb.drug.ingredient})
        name = texts[0] if texts else (f"RxNorm {codes[0].code}" if codes else "(no medication)")
        out.append(
            DraftOrder(
                ref=_ref(resource, position),
                resource=resource,
                name=name[:200],
                match=match,
                strength=_strength(codes, texts, kb) if ldn else None,
                ldn_type=ldn,
                named=bool(codes or texts),
            )
        )
    return out


_RELATIVE_MEDICATION = re.compile(r"^Medication/[A-Za-z0-9\-.]{1,64}$")


def unresolved_medications(draft_bundle: Any, records: Iterable[Resource] = ()) -> list[str]:
    """Relative 'Medication/id' references of draft MedicationRequests that neither the draft
    Bundle nor the records hold (an adapter may read them from the EHR's FHIR server)."""
    drafts = bundle_resources(draft_bundle)
    known = _medication_index(drafts, records)
    out: list[str] = []
    for resource, _ in drafts:
        target = resource.get("medicationReference")
        if resource.get("resourceType") != "MedicationRequest" or not isinstance(target, dict):
            continue
        reference = str(target.get("reference") or "").strip()
        wanted = _RELATIVE_MEDICATION.match(reference) and reference not in known
        if wanted and reference not in out:
            out.append(reference)
    return out


def ldn_draft_orders(
    draft_bundle: Any, records: Iterable[Resource] = (), kb: KnowledgeBase | None = None
) -> list[DraftOrder]:
    """The LDN-type draft orders (product ingredients exactly {naltrexone})."""
    return [o for o in read_draft_orders(draft_bundle, records, kb) if o.ldn_type]


def _strength(codes: Sequence[Code], texts: Sequence[str], kb: KnowledgeBase) -> Strength | None:
    """The strength of one unit: the knowledge base's product (by RxCUI, then by name), else a
    single mass strength written in the product name ('naltrexone 50 MG Oral Tablet')."""
    products = [p for p in kb.terminology.products if p.strength_mg is not None]
    for code in codes:
        if code.system in ("rxnorm", None):
            for p in products:
                if p.rxcui and p.rxcui == code.code:
                    return Strength(_dec(p.strength_mg), p.unit, "knowledge base")
    names = {norm(t) for t in texts}
    for p in products:
        if names & {norm(n) for n in (p.name, *p.aliases)}:
            return Strength(_dec(p.strength_mg), p.unit, "knowledge base")
    for text in texts:
        found = {(m[1], m[2].lower()) for m in _STRENGTH_IN_NAME.finditer(text)}
        if len(found) != 1:
            continue  # none, or several strengths: not one unit's strength
        value, unit = next(iter(found))
        try:
            magnitude, kind = _quantity(f"{value} {unit}")
        except LdnError:
            continue
        if kind != "mass" or magnitude <= 0:
            continue
        words = norm(text).split()
        form = next((_UNIT_WORDS[w] for w in words if w in _UNIT_WORDS), None)
        return Strength(_dec(magnitude), form, "product name")
    return None


def _dec(value: float | None) -> Decimal:
    return Decimal(f"{float(value or 0):.10g}")


def _unit_word(unit: str) -> str | None:
    word = unit.strip().strip("{}").strip().lower()
    if word.endswith("s") and word[:-1] in _UNIT_WORDS:
        word = word[:-1]
    return _UNIT_WORDS.get(word)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _per_dose(quantity: Any, strength: Strength | None) -> tuple[Decimal | None, str, str | None]:
    """(mg per administration, how it was read, problem) for a FHIR Quantity."""
    if not isinstance(quantity, dict):
        return None, "", "the dose quantity is not an object"
    value = _number(quantity.get("value"))
    unit = _unit_of(quantity)
    written = f"{quantity.get('value')} {unit}".strip()
    if value is None:
        return None, written, f"the dose '{written}' has no numeric value"
    if value <= 0:
        what = "zero" if value == 0 else "negative"
        return None, written, f"the dose '{written}' is {what}, which is not a dose"
    count_unit = _unit_word(unit) if unit else None
    if count_unit is not None:
        return _count_dose(value, count_unit, written, strength)
    if not unit:
        return None, written, f"the dose '{written}' has no unit"
    try:
        magnitude, kind = _quantity(f"{value:.10g} {unit}")
    except LdnError as exc:
        return None, written, str(exc)
    if kind != "mass":
        return None, written, f"the dose '{written}' is not a mass (mg) or a count of tablets"
    return _dec(magnitude), f"{fmt_mg(_dec(magnitude))} mg", None


_UCUM = "http://unitsofmeasure.org"


def _unit_of(quantity: dict[str, Any]) -> str:
    """The unit of a dose Quantity: its `code` when that is a UCUM code (no system, or UCUM's),
    else its human-readable `unit` (a SNOMED CT code such as 258684004 is not a unit
    expression; the `unit` beside it says "mg")."""
    code, unit, system = quantity.get("code"), quantity.get("unit"), quantity.get("system")
    written = code if code and (system is None or system == _UCUM) else (unit or code)
    return str(written or "").strip()


@lru_cache(maxsize=2048)
def _quantity(text: str) -> tuple[float, str]:
    """`regimen.dose.parse_quantity`, remembered: pint takes milliseconds per parse and the
    same few doses come with every order signature."""
    return parse_quantity(text)


def _count_dose(
    count: float, unit: str, written: str, strength: Strength | None
) -> tuple[Decimal | None, str, str | None]:
    if strength is None:
        return (
            None,
            written,
            (
                f"the dose is written as {written}, and the strength of one {unit} of this "
                "product is not known"
            ),
        )
    if strength.unit is not None and strength.unit != unit:
        return (
            None,
            written,
            (
                f"the dose is written as {written}, but the product's strength is given "
                f"per {strength.unit}"
            ),
        )
    mg = _dec(count) * strength.mg
    return mg, f"{written} × {fmt_mg(strength.mg)} mg ({strength.source}) = {fmt_mg(mg)} mg", None


def _text_dose(text: str, strength: Strength | None) -> tuple[Decimal | None, str, str | None]:
    masses = {(m[1], m[2].lower()) for m in _MASS_TEXT.finditer(text)}
    if len(masses) > 1:
        return None, text, f"the dosage text '{text}' states more than one dose"
    if masses:
        value, unit = next(iter(masses))
        return _per_dose({"value": float(value), "unit": unit}, strength)
    counts = {(m[1].lower(), m[2].lower()) for m in _COUNT_TEXT.finditer(text)}
    if len(counts) == 1:
        value, unit = next(iter(counts))
        number = _NUMBER_WORDS.get(value)
        count = number if number is not None else float(value)
        return _per_dose({"value": count, "unit": unit}, strength)
    return None, text, f"the dosage text '{text}' states no dose that could be read"


def _frequency(dosage: dict[str, Any], text: str) -> tuple[float | None, str]:
    """(administrations per day, how it was read) from timing, else the dosage text."""
    timing = dosage.get("timing")
    if isinstance(timing, dict):
        repeat = timing.get("repeat")
        if isinstance(repeat, dict) and any(
            k in repeat for k in ("frequency", "frequencyMax", "period", "periodUnit", "when")
        ):
            freq = _number(repeat.get("frequencyMax", repeat.get("frequency", 1)))
            period = _number(repeat.get("period", 1))
            per_day = _PER_DAY.get(str(repeat.get("periodUnit", "d")))
            if "period" not in repeat and "periodUnit" not in repeat:
                when = repeat.get("when")
                count = len(when) if isinstance(when, list) and when else 1
                return (freq or 1) * count, "timing"
            if freq is None or period is None or per_day is None or freq <= 0 or period <= 0:
                return None, "the timing's frequency or period is not understood"
            return freq * per_day / period, "timing"
        code = timing.get("code")
        codings = code.get("coding") if isinstance(code, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict) and str(coding.get("code", "")).upper() in _TIMING_CODES:
                return _TIMING_CODES[str(coding["code"]).upper()], "timing code"
    lowered = " ".join(norm(text).split())
    for pattern, per_day in _TEXT_FREQUENCY:
        found = pattern.search(lowered)
        if found is None:
            continue
        if per_day is None:
            hours = next((float(g) for g in found.groups() if g), 0.0)
            return (24 / hours if hours > 0 else None), "dosage text"
        return per_day, "dosage text"
    return None, "no frequency is stated"


def _times(per_day: float) -> str:
    if per_day == 1:
        return "once a day"
    if per_day == 2:
        return "twice a day"
    if per_day >= 1:
        return f"{per_day:g} times a day"
    return f"once every {1 / per_day:g} days"


def _step_days(dosage: dict[str, Any]) -> int | None:
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        return None
    bounds = repeat.get("boundsPeriod")
    if isinstance(bounds, dict):
        try:
            start = date.fromisoformat(str(bounds.get("start"))[:10])
            end = date.fromisoformat(str(bounds.get("end"))[:10])
        except ValueError:
            return None
        return (end - start).days + 1 if end >= start else None
    duration = repeat.get("boundsDuration")
    if isinstance(duration, dict):
        value = _number(duration.get("value"))
        unit = str(duration.get("code") or duration.get("unit") or "")
        if value is not None and value > 0 and unit in _DURATION_DAYS and value == int(value):
            return int(value) * _DURATION_DAYS[unit]
    return None


def _when(dosage: dict[str, Any]) -> DoseTime | None:
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    when = repeat.get("when") if isinstance(repeat, dict) else None
    times = {_WHEN.get(str(w).upper()) for w in when} if isinstance(when, list) else set()
    return next(iter(times)) if len(times) == 1 and None not in times else None


def read_doses(order: Resource, strength: Strength | None) -> list[StepDose]:
    """One `StepDose` per dosageInstruction (a single unread step when there is none)."""
    dosages = order.get("dosageInstruction")
    dosages = [d for d in dosages if isinstance(d, dict)] if isinstance(dosages, list) else []
    if not dosages:
        return [StepDose(1, None, "", "the order has no dosage instruction")]
    out: list[StepDose] = []
    for index, dosage in enumerate(dosages, 1):
        text = str(dosage.get("text") or "").strip()[:200]
        per_dose: Decimal | None = None
        read_as, problem = "", None
        rates = dosage.get("doseAndRate")
        if isinstance(rates, dict):  # a single object, as in the hook's STU3 example
            rates = [rates]
        rates = [r for r in rates if isinstance(r, dict)] if isinstance(rates, list) else []
        rates.append(dosage)  # doseQuantity directly on the dosage (DSTU2/STU3 shape)
        structured = next((r for r in rates if "doseQuantity" in r or "doseRange" in r), None)
        if structured is not None and "doseQuantity" in structured:
            per_dose, read_as, problem = _per_dose(structured["doseQuantity"], strength)
        elif structured is not None:
            dose_range = structured["doseRange"]
            high = dose_range.get("high") if isinstance(dose_range, dict) else None
            if high is None:
                problem = "the dose range has no upper bound"
            else:
                per_dose, read_as, problem = _per_dose(high, strength)
                read_as = f"upper bound of the dose range: {read_as}"
        elif text:
            per_dose, read_as, problem = _text_dose(text, strength)
            read_as = f"from the dosage text: {read_as}"
        else:
            problem = "the dosage gives no dose (no doseQuantity, doseRange or text)"
        days, when = _step_days(dosage), _when(dosage)
        if problem is not None or per_dose is None:
            out.append(StepDose(index, None, read_as or text, problem or "unread", days, when))
            continue
        per_day, how = _frequency(dosage, text)
        if per_day is None:
            out.append(StepDose(index, None, read_as, f"{read_as} a dose, but {how}", days, when))
            continue
        mg = _dec(float(per_dose) * per_day)
        shown = f"{read_as}, {_times(per_day)} ({how})"
        out.append(StepDose(index, mg, shown, None, days, when))
    return _concurrent(dosages, out)


def _sequence(dosage: dict[str, Any]) -> int | None:
    value = dosage.get("sequence")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _concurrent(dosages: list[dict[str, Any]], steps: list[StepDose]) -> list[StepDose]:
    """Dosage instructions with the same `sequence` number are taken together (FHIR Dosage:
    the same sequence means concurrent, a different one sequential): one step whose daily dose
    is their sum, unread if any of them is. (4.5 mg in the morning and 4.5 mg at bedtime,
    both sequence 1, is 9 mg a day, not two steps of 4.5 mg.) Instructions without a sequence
    stay one step each, in order."""
    groups: dict[tuple[str, int], list[StepDose]] = {}
    for dosage, step in zip(dosages, steps, strict=True):
        number = _sequence(dosage)
        key = ("sequence", number) if number is not None else ("alone", step.index)
        groups.setdefault(key, []).append(step)
    if all(len(group) == 1 for group in groups.values()):
        return steps
    merged: list[StepDose] = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        first = group[0]
        together = " + ".join(s.read_as for s in group if s.read_as)
        shown = f"{together} (dosages {', '.join(str(s.index) for s in group)} taken together)"
        problems = [str(s.problem) for s in group if s.mg_per_day is None]
        days = {s.days for s in group}
        if problems:
            problem = "; ".join(problems) + f" ({shown.rsplit('(', 1)[1]}"
            merged.append(StepDose(first.index, None, shown, problem, first.days, None))
            continue
        total = sum((s.mg_per_day or Decimal(0) for s in group), Decimal(0))
        merged.append(
            StepDose(first.index, total, shown, None, days.pop() if len(days) == 1 else None, None)
        )
    return merged


# ====================================================================== judging the orders


def review_draft_orders(
    draft_bundle: Any,
    records: Sequence[Resource],
    *,
    as_of: date,
    patient_id: str | None = None,
    unavailable: Sequence[str] = (),
    kb: KnowledgeBase | None = None,
) -> list[OrderAdvice]:
    """Advice for every LDN-type order in the draft Bundle (none when there is none):
    contraindications and medicine cautions from the assessment of the patient's record plus
    every other draft order; for an order meant as LDN, its dose (outside the range or unread,
    with a suggestion) and the titration and monitoring plan. `unavailable` names kinds of
    medicine record that could not be read (e.g. MedicationStatement): a caution says so."""
    from ldn_derm.assess import assess
    from ldn_derm.patient import profile_from_bundle

    kb = kb or get_knowledge()
    drafts = bundle_resources(draft_bundle)
    orders = read_draft_orders(draft_bundle, records, kb)
    out: list[OrderAdvice] = []
    seen: set[tuple[str, str]] = set()
    other_patient_said = False
    for order in (o for o in orders if o.ldn_type):
        # the patient's medicines: the record, plus every OTHER draft (never this order itself,
        # which would count as naltrexone already taken)
        # (a Bundle, so that a draft naming a Medication by its fullUrl is still read)
        entries: list[dict[str, Any]] = [
            {"resource": r} for r in records if _ref(r, 0) != order.ref or "id" not in r
        ]
        entries += [
            {"resource": r, **({"fullUrl": url} if url else {})}
            for r, url in drafts
            if r is not order.resource
        ]
        profile = profile_from_bundle(
            {"resourceType": "Bundle", "type": "collection", "entry": entries},
            as_of=as_of,
            kb=kb,
            patient_id=patient_id,
        )
        assessment = assess(profile, kb, comparators=False)
        left_out = [n for n in profile.not_assessed if n.reason == OTHER_PATIENT_REASON]
        if left_out and not other_patient_said:  # once, whatever the number of LDN drafts
            other_patient_said = True
            out.append(OrderAdvice(_other_patient_finding(left_out[0].text), order.ref))
        for f in assessment.findings:
            medicine = f.code in MEDICINE_CAUTION_CODES or "opioid" in f.code
            if f.severity is Severity.CONTRAINDICATED or (
                f.severity is Severity.CAUTION and medicine
            ):
                key = (f.code, f.summary)
                if key not in seen:
                    seen.add(key)
                    out.append(OrderAdvice(f, order.ref))
        out.extend(_dose_and_plan(order, assessment, as_of, kb))
    blank = [o for o in orders if not o.named]
    if blank:  # could be naltrexone: say that nothing was checked, never stay silent
        refs = ", ".join(o.ref for o in blank)
        out.append(
            OrderAdvice(
                Finding(
                    code=ORDER_MEDICINE_UNKNOWN,
                    severity=Severity.CAUTION,
                    summary="The medicine of a draft order could not be identified: it was not "
                    "checked",
                    detail=(
                        f"No medicine code or name could be read for {refs} (no medication, or a "
                        "medicationReference to a Medication that was neither sent nor "
                        "readable). If it is naltrexone, none of the naltrexone checks (opioids, "
                        "interactions, dose) was done. Check the order before signing."
                    ),
                    triggered_by=[o.ref for o in blank],
                )
            )
        )
    if unavailable and any(o.ldn_type for o in orders):
        kinds = ", ".join(unavailable)
        out.append(
            OrderAdvice(
                Finding(
                    code=RECORD_INCOMPLETE,
                    severity=Severity.CAUTION,
                    summary=f"Not every medicine was checked: not all {kinds} records were "
                    "available",
                    detail=(
                        f"Not all of the patient's {kinds} records were sent or readable (none, "
                        "or only some pages of a search), so a medicine recorded only in the "
                        "rest (an opioid taken at home, for instance) was not checked against "
                        "this naltrexone order. Check the medication list before signing."
                    ),
                    triggered_by=list(unavailable),
                )
            )
        )
    out.sort(key=lambda a: a.finding.severity.rank)
    return out


def _other_patient_finding(count: str) -> Finding:
    return Finding(
        code=RECORD_OTHER_PATIENT,
        severity=Severity.CAUTION,
        summary=f"{count} sent with this order name another patient and were not checked",
        detail=(
            f"{count} in the patient's record or the order set name a different patient as "
            "their subject (or patient), so they were left out of the naltrexone checks. If "
            "any of them is this patient's (a medicine with a mistyped reference, for "
            "instance an opioid), it was not checked. Check the medication list before signing."
        ),
    )


def order_indication(
    order: Resource, assessment: Assessment, kb: KnowledgeBase | None = None
) -> tuple[str, str] | None:
    """(condition id, how we know) for an order meant as LDN: a stated reason with low-dose
    evidence, else (when the order states no reason) the patient's first such indication.
    None otherwise: a reason studied only at standard doses (pruritus at 50 mg), or one the
    knowledge base does not hold (alcohol or opioid use disorder), is not ours to judge."""
    kb = kb or get_knowledge()
    reasons = order.get("reasonCode")
    stated = False
    for concept in reasons if isinstance(reasons, list) else []:
        if not isinstance(concept, dict):
            continue
        codings = concept.get("coding")
        codings = [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []
        keys = [str(c.get(k) or "") for c in codings for k in ("code", "display")]
        keys.append(str(concept.get("text") or ""))
        for key in (k for k in keys if k.strip()):
            stated = True
            try:
                cid = kb.find_condition(key).id
            except LdnError:
                continue
            if kb.summarize(cid).positive_possibly_low > 0:
                return cid, "the order's reason"
    if stated:
        return None  # the prescriber said why, and it is not a condition with LDN evidence
    for ind in assessment.indications:
        if ind.evidence.positive_possibly_low > 0:
            return ind.condition, f"{ind.name} on the problem list"
    return None


def _dose_and_plan(
    order: DraftOrder, assessment: Assessment, as_of: date, kb: KnowledgeBase
) -> list[OrderAdvice]:
    indication = order_indication(order.resource, assessment, kb)
    if indication is None:
        return []  # e.g. naltrexone for alcohol or opioid use disorder: not ours to judge
    condition_id, why = indication
    name = kb.conditions[condition_id].name
    low, high = _dec(kb.drug.canonical_low_dose.low), _dec(kb.drug.canonical_low_dose.high)
    steps = read_doses(order.resource, order.strength)
    unread = [s for s in steps if s.mg_per_day is None]
    outside = [s for s in steps if s.mg_per_day is not None and not low <= s.mg_per_day <= high]
    out: list[OrderAdvice] = []
    if not unread and not outside:  # the order's own regimen, whatever its shape
        plan_line, plan_md, plan_refs = own_plan_parts(condition_id, steps, kb)
        dose_note = "The draft order's daily dose is within the low-dose range."
    else:
        suggested = suggested_regimen(condition_id, as_of, kb)
        plan_line, plan_md, plan_refs = plan_parts(condition_id, suggested, kb)
        dose_note = "The plan below is the suggested low-dose scheme (see the dose card)."
        suggestion = Suggestion(
            label=f"Change to compounded low-dose naltrexone: {plan_line}",
            description=(
                "Replace the whole order with a compounded low-dose naltrexone order "
                f"({plan_line}; product, doses, quantity and supply)."
            ),
            resource=replacement_order(order.resource, condition_id, suggested, as_of, kb),
        )
        ranges = [r for lr in kb.drug.low_dose_ranges for r in lr.refs]
        if unread:
            problems = "; ".join(f"dosage {s.index}: {s.problem}" for s in unread)
            finding = Finding(
                code=DOSE_UNREADABLE,
                severity=Severity.CAUTION,
                summary="The naltrexone dose of this order could not be read: check it is "
                f"{kb.drug.canonical_low_dose.label()}",
                detail=(
                    f"The daily dose of the draft order ({order.name}) for {name} ({why}) could "
                    f"not be read: {problems}. It has not been checked against the low-dose "
                    f"range ({kb.drug.canonical_low_dose.label()}). Suggested instead: "
                    f"{plan_line}."
                ),
                triggered_by=[order.ref],
                references=list(dict.fromkeys([*ranges, *plan_refs[:1]])),
            )
            out.append(OrderAdvice(finding, order.ref, condition_id, suggestion))
        if outside:
            first = outside[0]
            mg = first.mg_per_day or Decimal(0)
            summary, detail, refs = dose_range_text(float(mg), name, why, kb)
            read = "; ".join(f"dosage {s.index}: {s.read_as}" for s in outside)
            detail += f" Read as {read}."
            hint = slip_hint(mg, kb)
            if hint:
                detail += f" Possible slip: {hint}."
            finding = Finding(
                code=DOSE_OUTSIDE,
                severity=Severity.CAUTION,
                summary=summary,
                detail=f"{detail} Suggested instead: {plan_line}.",
                triggered_by=[order.ref],
                references=list(dict.fromkeys([*refs, *plan_refs[:1]])),
            )
            out.append(OrderAdvice(finding, order.ref, condition_id, suggestion))
    out.append(
        OrderAdvice(
            Finding(
                code=PLAN,
                severity=Severity.INFO,
                summary=f"LDN plan for {name}: {plan_line}",
                detail=f"{dose_note}\n\n{plan_md}",
                triggered_by=[order.ref],
                references=plan_refs,
            ),
            order.ref,
            condition_id,
        )
    )
    return out


def suggested_regimen(condition_id: str, day: date, kb: KnowledgeBase | None = None) -> Regimen:
    """A published low-dose scheme for the condition (a preset), else the top of the cited range."""
    from ldn_derm.regimen.schedule import build_regimen

    kb = kb or get_knowledge()
    for proto in (p for p in kb.protocols.protocols if condition_id in p.conditions):
        try:
            return build_regimen(preset=proto.id, start_date=day, kb=kb)
        except LdnError:
            continue  # a preset whose source leaves a needed parameter unreported
    return build_regimen(target_mg=kb.drug.canonical_low_dose.high, start_date=day, kb=kb)


def _monitoring_lines(condition_id: str, kb: KnowledgeBase) -> tuple[list[str], list[str]]:
    from ldn_derm.regimen.monitoring import build_monitoring_plan

    plan = build_monitoring_plan(condition_id, kb=kb)
    lines = ["", "**Monitoring**"]
    for item in (*plan.side_effects, *plan.thyroid, *plan.opioids, *plan.follow_up, plan.stopping):
        caveat = f" *Caveat: {item.caveat.strip()}*" if item.caveat else ""
        lines.append(f"- **{item.title}.** {item.text}{caveat}")
    return lines, list(plan.refs)


def plan_parts(
    condition_id: str, regimen: Regimen, kb: KnowledgeBase
) -> tuple[str, str, list[str]]:
    """(one-line plan, plan text in Markdown, references) for a suggested regimen."""
    steps = [f"{fmt_mg(s.dose_mg)} mg" for s in regimen.steps]
    line = " → ".join(steps) + f" once daily {regimen.time.phrase}"
    scheme = regimen.protocol_name or (
        f"no published scheme for {kb.conditions[condition_id].name}: the top of the cited "
        "low-dose range"
    )
    lines = [f"**Regimen** ({scheme}): {line}."]
    lines += [f"- {regimen.describe_step(step)}" for step in regimen.steps]
    lines += [f"- Assumed: {a}" for a in regimen.assumptions]  # what the source does not say
    monitoring, monitoring_refs = _monitoring_lines(condition_id, kb)
    range_refs = (
        [] if regimen.protocol_name else [r for lr in kb.drug.low_dose_ranges for r in lr.refs]
    )
    refs = [*regimen.refs, *range_refs, *regimen.timing_refs, *monitoring_refs]
    return line, "\n".join([*lines, *monitoring]), list(dict.fromkeys(refs))


def own_plan_parts(
    condition_id: str, steps: Sequence[StepDose], kb: KnowledgeBase
) -> tuple[str, str, list[str]]:
    """(one-line plan, Markdown, references) describing the order's OWN regimen (every step
    read and within the low-dose range), with the monitoring for the condition."""
    times = {s.when for s in steps}
    time = next(iter(times)) if len(times) == 1 else None
    doses = " → ".join(f"{fmt_mg(s.mg_per_day or Decimal(0))} mg" for s in steps)
    line = f"{doses} a day" + (f" {time.phrase}" if time is not None else "")
    lines = [f"**Regimen** (as ordered): {line}."]
    day = 1
    for s in steps:
        mg = fmt_mg(s.mg_per_day or Decimal(0))
        if s.days is not None and day > 0:
            span = f"days {day}–{day + s.days - 1}"
            day += s.days
        else:
            span = f"from day {day}, length not stated" if day > 0 else "length not stated"
            day = 0  # later steps' days are unknown
        lines.append(f"- Step {s.index} ({span}): {mg} mg a day — read as {s.read_as}.")
    if time is None:
        lines.append("- The order does not state one time of day for every step.")
    monitoring, refs = _monitoring_lines(condition_id, kb)
    ranges = [r for lr in kb.drug.low_dose_ranges for r in lr.refs]
    return line, "\n".join([*lines, *monitoring]), list(dict.fromkeys([*ranges, *refs]))


def dose_range_text(
    mg: float, name: str, why: str, kb: KnowledgeBase
) -> tuple[str, str, list[str]]:
    """(summary, detail, references) for a draft dose outside the program's low-dose range."""
    low, standard = kb.drug.canonical_low_dose, kb.drug.standard_dose
    ranges = [r for lr in kb.drug.low_dose_ranges for r in lr.refs]
    context = (
        f"The draft order gives {mg:g} mg of naltrexone a day for {name} ({why}). This program "
        f"uses {low.label()} as the low dose; the cited low-dose ranges differ at the edges."
    )
    if mg < low.low:
        summary = f"{mg:g} mg/day is below the low-dose range this program uses ({low.label()})"
        return summary, f"{context} Check that the dose is intended.", ranges
    above = kb.drug.statement("above-low-dose")
    summary = f"{mg:g} mg/day is above the low-dose range ({low.label()}) for {name}"
    detail = f"{context} {above.text.strip()}"
    if above.caveat:
        detail += f" Caveat: {above.caveat.strip()}"
    refs = [*ranges, *above.refs]
    if mg >= standard.low:
        detail += f" {standard.label()} is the standard dose for alcohol and opioid use disorder."
        refs += kb.drug.standard_dose_refs
    return summary, detail, refs


# fields of the draft order that say whose order it is, kept on the replacement
_KEPT = ("id", "identifier", "subject", "encounter", "requester", "recorder", "groupIdentifier")


def replacement_order(
    order: Resource, condition_id: str, regimen: Regimen, as_of: date, kb: KnowledgeBase
) -> Resource:
    """The whole order replaced by the compounded low-dose MedicationRequest that
    `build_prescription` writes (capsules: product, doses, quantity, supply; built unsigned by
    `draft_medication_request`, so the prescriber's gates run when it is prescribed), keeping
    the draft's id, subject, encounter and requester so the EHR updates the same draft."""
    import copy

    key = (condition_id, regimen, as_of, id(kb))
    base = _BASE_REQUESTS.get(key)
    if base is None:
        from ldn_derm.regimen.prescription import draft_medication_request

        base = draft_medication_request(condition_id, regimen, "capsule", authored_on=as_of, kb=kb)
        if len(_BASE_REQUESTS) > 256:
            _BASE_REQUESTS.clear()
        _BASE_REQUESTS[key] = base
    resource = copy.deepcopy(base)
    for field in _KEPT:
        if field in order:
            resource[field] = copy.deepcopy(order[field])
    status = order.get("status")
    if isinstance(status, str) and status in {"draft", "active", "on-hold"}:
        resource["status"] = status
    return resource


_BASE_REQUESTS: dict[tuple[str, Regimen, date, int], Resource] = {}
