"""FHIR R4 resources (plain dicts from orjson) -> `PatientProfile`.

Only the fields the rules need are read, and each is type-checked where it is read: a wrong
type or a malformed date raises `PatientDataError` naming the resource and the field. Full
model validation (fhir.resources) is deliberately not used: it costs many times the parse
(see benchmarks/bench_assess.py) and the rules need a few dozen fields.

Entry points: `profile_from_bundle` (a Bundle dict), `profile_from_prefetch` (a CDS Hooks
prefetch dict: key -> resource or Bundle) and `profile_from_resources` (any iterable of
resource dicts), which the other two use.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from ldn_derm.errors import PatientDataError
from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.patient.dates import age_on, check_as_of, parse_fhir_date, plus_days
from ldn_derm.patient.derive import derive_pregnancy_and_lactation
from ldn_derm.patient.profile import (
    AllergyFact,
    Code,
    ConditionFact,
    LabFact,
    MedicationFact,
    MedStatus,
    NotAssessedItem,
    PatientProfile,
    Sex,
)
from ldn_derm.patient.terminology import Matcher, matcher_for, short_system

JSON = object
Resource = dict[str, JSON]

_MEDICATION_TYPES = (
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "MedicationDispense",
)
USED_TYPES = frozenset(
    {"Patient", "Condition", "AllergyIntolerance", "Observation", "Medication", *_MEDICATION_TYPES}
)

# FHIR R4 status value sets, mapped to where the record stands. None = ignore the record.
_MED_STATUS: dict[str, dict[str, MedStatus | None]] = {
    "MedicationRequest": {
        "active": MedStatus.CURRENT, "on-hold": MedStatus.CURRENT, "draft": MedStatus.CURRENT,
        "completed": MedStatus.PAST, "stopped": MedStatus.PAST, "unknown": MedStatus.UNKNOWN,
        "cancelled": None, "entered-in-error": None,
    },
    "MedicationStatement": {
        "active": MedStatus.CURRENT, "on-hold": MedStatus.CURRENT, "intended": MedStatus.CURRENT,
        "completed": MedStatus.PAST, "stopped": MedStatus.PAST, "unknown": MedStatus.UNKNOWN,
        "not-taken": None, "entered-in-error": None,
    },
    "MedicationAdministration": {
        "in-progress": MedStatus.CURRENT, "on-hold": MedStatus.CURRENT,
        "completed": MedStatus.PAST, "stopped": MedStatus.PAST, "unknown": MedStatus.UNKNOWN,
        "not-done": None, "entered-in-error": None,
    },
    "MedicationDispense": {
        "preparation": MedStatus.CURRENT, "in-progress": MedStatus.CURRENT,
        "on-hold": MedStatus.CURRENT, "completed": MedStatus.PAST, "stopped": MedStatus.PAST,
        "unknown": MedStatus.UNKNOWN, "cancelled": None, "declined": None,
        "entered-in-error": None,
    },
}  # fmt: skip
_ACTIVE_CLINICAL = {"active", "recurrence", "relapse"}
_INACTIVE_CLINICAL = {"inactive", "remission", "resolved"}
_CLINICAL = _ACTIVE_CLINICAL | _INACTIVE_CLINICAL
_UNCONFIRMED = {"unconfirmed", "provisional", "differential"}
_IGNORED_VERIFICATION = {"refuted", "entered-in-error"}
_OBSERVATION_USED = {"final", "amended", "corrected", "preliminary"}
_OBSERVATION_STATUSES = _OBSERVATION_USED | {
    "registered",
    "cancelled",
    "entered-in-error",
    "unknown",
}
_POSITIVE_WORDS = re.compile(r"\b(positive|detected|reactive|pregnant|present|yes)\b")
_NEGATIVE_WORDS = re.compile(
    r"\b(negative|not detected|non-?reactive|not pregnant|absent|no|undetected|none detected)\b"
)
_DURATION_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7, "mo": 30,
                  "month": 30, "months": 30, "a": 365, "year": 365, "years": 365}  # fmt: skip


# ====================================================================== entry points


def profile_from_bundle(
    bundle: Mapping[str, JSON],
    *,
    as_of: date,
    kb: KnowledgeBase | None = None,
    patient_id: str | None = None,
) -> PatientProfile:
    """A profile from a FHIR Bundle (transaction, collection, searchset...)."""
    kind = bundle.get("resourceType")
    if kind != "Bundle":
        raise PatientDataError(f"expected a FHIR Bundle, but the input is a {_describe_type(kind)}")
    return _build(_bundle_items(bundle, "Bundle"), as_of, kb, "fhir-bundle", patient_id)


def profile_from_prefetch(
    prefetch: Mapping[str, JSON],
    *,
    as_of: date,
    kb: KnowledgeBase | None = None,
    patient_id: str | None = None,
) -> PatientProfile:
    """A profile from a CDS Hooks prefetch: each value a resource, a Bundle or null."""
    if not isinstance(prefetch, Mapping):
        raise PatientDataError("the prefetch must be a JSON object (key -> resource or Bundle)")
    items: list[_Item] = []
    for key, value in prefetch.items():
        if value is None:  # the EHR could not fetch it; the CDS service fetches or skips it
            continue
        if not isinstance(value, dict):
            raise PatientDataError(f"prefetch '{key}' is not a FHIR resource object")
        if value.get("resourceType") == "Bundle":
            items.extend(_bundle_items(value, f"prefetch '{key}'"))
        else:
            items.append(_Item(_resource(value, f"prefetch '{key}'"), None))
    return _build(items, as_of, kb, "cds-prefetch", patient_id)


def profile_from_resources(
    resources: Iterable[JSON],
    *,
    as_of: date,
    kb: KnowledgeBase | None = None,
    patient_id: str | None = None,
    source: str = "fhir-resources",
) -> PatientProfile:
    """A profile from loose resource dicts (one of them the Patient)."""
    items: list[_Item] = []
    for i, r in enumerate(resources, 1):
        if (
            type(r) is not dict
            or not isinstance(r.get("resourceType"), str)
            or not r["resourceType"]
        ):
            r = _resource(r, f"resource #{i}")  # raises, unless a dict subclass passes
        items.append(_Item(r, None))
    return _build(items, as_of, kb, source, patient_id)


# ====================================================================== plumbing


class _Item(NamedTuple):
    resource: Resource
    full_url: str | None


# The reason of the not-assessed note for resources whose subject names someone else (an order
# service turns it into a caution: such a resource is never checked).
OTHER_PATIENT_REASON = "refer to a different patient and were left out"


@dataclass
class _Counts:
    skipped_types: Counter[str] = field(default_factory=Counter)
    other_patient: int = 0
    ignored_status: int = 0
    future: int = 0
    unused_observations: int = 0
    resolved_unrecognised: int = 0
    non_drug_allergies: int = 0
    no_resource: int = 0


def _describe_type(kind: JSON) -> str:
    if isinstance(kind, str) and kind:
        return f"'{kind[:60]}' resource"
    return "JSON object without a FHIR resourceType"


def _resource(value: JSON, where: str) -> Resource:
    if not isinstance(value, dict):
        raise PatientDataError(f"{where} is not a JSON object")
    kind = value.get("resourceType")
    if not isinstance(kind, str) or not kind:
        raise PatientDataError(f"{where} has no resourceType")
    return value


def _bundle_items(bundle: Mapping[str, JSON], where: str, depth: int = 0) -> list[_Item]:
    entries = bundle.get("entry", [])
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise PatientDataError(f"{where}: 'entry' should be a list")
    items: list[_Item] = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise PatientDataError(f"{where} entry {number} is not a JSON object")
        resource = entry.get("resource")
        if resource is None:
            items.append(_Item({"resourceType": "(entry without resource)"}, None))
            continue
        resource = _resource(resource, f"{where} entry {number} resource")
        full_url = entry.get("fullUrl")
        if full_url is not None and not isinstance(full_url, str):
            raise PatientDataError(f"{where} entry {number}: fullUrl should be a string")
        if resource.get("resourceType") == "Bundle":
            if depth >= 2:  # never passed over: what it holds (an opioid...) would go unseen
                raise PatientDataError(
                    f"{where} entry {number} is a Bundle nested more than three deep, which is "
                    "not read; give the resources in a flatter Bundle"
                )
            items.extend(_bundle_items(resource, f"{where} entry {number}", depth + 1))
        else:
            items.append(_Item(resource, full_url))
    return items


def _ref_of(resource: Resource, index: int) -> str:
    kind = str(resource["resourceType"])
    ident = resource.get("id")
    if ident is None:
        return f"{kind}/#{index}"
    if not isinstance(ident, str):
        raise PatientDataError(f"a {kind} resource has an id that is not a string")
    return f"{kind}/{ident}"


_TYPED_REFERENCE = re.compile(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")


def _reference_keys(reference: str) -> frozenset[str]:
    """Forms under which a reference may name a resource: 'Type/id', urn, absolute URL.
    (Cached when short: the resources of one patient all name it the same way.)"""
    if len(reference) <= _CACHED_LENGTH:
        return _short_reference_keys(reference)
    return _keys_of(reference)


@lru_cache(maxsize=4096)
def _short_reference_keys(reference: str) -> frozenset[str]:
    return _keys_of(reference)


def _keys_of(reference: str) -> frozenset[str]:
    ref = reference.strip()
    match = _TYPED_REFERENCE.search(ref)
    if match:
        return frozenset((ref, f"{match[1]}/{match[2]}"))
    return frozenset((ref,))


def _build(
    items: list[_Item],
    as_of: date,
    kb: KnowledgeBase | None,
    source: str,
    patient_id: str | None,
) -> PatientProfile:
    check_as_of(as_of)
    kb = kb or get_knowledge()
    matcher = matcher_for(kb)
    counts = _Counts()
    patients: list[tuple[Resource, str | None, str]] = []
    medications_by_key: dict[str, Resource] = {}
    used: list[tuple[Resource, str]] = []
    for index, item in enumerate(items, 1):
        resource = item.resource
        kind = str(resource["resourceType"])
        if kind == "(entry without resource)":
            counts.no_resource += 1
            continue
        if kind not in USED_TYPES:
            counts.skipped_types[kind] += 1
            continue
        ref = _ref_of(resource, index)
        if kind == "Patient":
            patients.append((resource, item.full_url, ref))
        elif kind == "Medication":
            for key in (ref, item.full_url):
                if key:
                    medications_by_key[key] = resource
        else:
            used.append((resource, ref))

    patient, patient_keys, patient_ref = _choose_patient(patients, patient_id)
    profile = _patient_facts(patient, patient_ref, as_of, source)

    reader = _Reader(matcher, as_of, counts, profile, medications_by_key)
    for resource, ref in used:
        if not reader.belongs(resource, patient_keys, ref):
            counts.other_patient += 1
            continue
        reader.read(resource, ref)

    derive_pregnancy_and_lactation(profile, matcher)
    _summarise(profile, counts)
    return profile


def _choose_patient(
    patients: list[tuple[Resource, str | None, str]], patient_id: str | None
) -> tuple[Resource, set[str], str]:
    if not patients:
        raise PatientDataError("the input holds no Patient resource, so there is no one to assess")
    if patient_id is not None:
        chosen = [p for p in patients if p[0].get("id") == patient_id]
        if not chosen:
            raise PatientDataError(f"no Patient with id '{patient_id}' in the input")
        patients = chosen[:1]
    distinct = {p[2] for p in patients}
    if len(distinct) > 1:
        raise PatientDataError(
            f"the input holds {len(distinct)} different Patient resources; assess one patient "
            "at a time"
        )
    resource, full_url, ref = patients[0]
    if any(other != resource for other, _, _ in patients[1:]):  # the same id, told twice
        raise PatientDataError(
            f"the input holds {ref} {len(patients)} times, with different contents (a date of "
            "death, a birth date or a sex may differ); which one is right cannot be told"
        )
    keys = {ref}
    if full_url:
        keys |= _reference_keys(full_url)
    ident = resource.get("id")
    if isinstance(ident, str):
        keys.add(f"urn:uuid:{ident}")
    return resource, keys, ref


def display_name(patient: Resource) -> str | None:
    """The patient's name for display: the official name first, `text` or given + family."""
    raw = patient.get("name")
    names = [n for n in raw if isinstance(n, dict)] if isinstance(raw, list) else []
    names.sort(key=lambda n: n.get("use") != "official")
    for n in names:
        text = n.get("text")
        if isinstance(text, str) and text.strip():
            return text.strip()
        given_raw = n.get("given")
        given_list = given_raw if isinstance(given_raw, list) else []
        given = " ".join(g for g in given_list if isinstance(g, str))
        family_raw = n.get("family")
        family = family_raw if isinstance(family_raw, str) else ""
        full = f"{given} {family}".strip()
        if full:
            return full
    return None


def _patient_facts(patient: Resource, ref: str, as_of: date, source: str) -> PatientProfile:
    gender = _str(patient, "gender", ref)
    sex = {
        "female": Sex.FEMALE, "male": Sex.MALE, "other": Sex.OTHER, "unknown": Sex.UNKNOWN,
    }.get(gender or "unknown")  # fmt: skip
    if sex is None:
        raise PatientDataError(f"{ref}: gender '{gender}' is not a FHIR administrative gender")
    birth_text = patient.get("birthDate")
    birth = parse_fhir_date(birth_text, f"{ref} birthDate") if birth_text is not None else None
    deceased: date | None = None
    deceased_text = patient.get("deceasedDateTime")
    if deceased_text is not None:
        deceased = parse_fhir_date(deceased_text, f"{ref} deceasedDateTime")
    if birth is not None and deceased is not None and deceased < birth:
        raise PatientDataError(
            f"{ref}: the date of death {deceased.isoformat()} is before the birth date "
            f"{birth.isoformat()}"
        )
    if birth is not None and birth > as_of:
        raise PatientDataError(
            f"the as-of date {as_of.isoformat()} is before the patient's birth date "
            f"{birth.isoformat()}"
        )
    alive_on = deceased if deceased is not None and deceased < as_of else as_of
    profile = PatientProfile(
        id=ref.split("/", 1)[1],
        as_of=as_of,
        source=source,
        sex=sex,
        birth_date=birth,
        age=age_on(birth, alive_on) if birth else None,
        deceased=deceased if deceased is not None and deceased <= as_of else None,
        patient_ref=ref,
        name=display_name(patient),
    )
    if birth is None:
        profile.not_assessed.append(
            NotAssessedItem("patient", "birth date", "not recorded: age-based checks skipped", ref)
        )
    deceased_flag = patient.get("deceasedBoolean")
    if deceased_flag is not None and not isinstance(deceased_flag, bool):
        raise PatientDataError(f"{ref}: 'deceasedBoolean' should be true or false")
    if deceased_flag is True and profile.deceased is None:
        profile.deceased_undated = True  # deceased, date not recorded: still blocks LDN
    return profile


# ====================================================================== field readers


def _str(resource: Mapping[str, JSON], key: str, where: str, field: str = "") -> str | None:
    value = resource.get(key)
    if value is None or isinstance(value, str):
        return value
    raise PatientDataError(f"{where}{field}: '{key}' should be text")


def _obj(
    resource: Mapping[str, JSON], key: str, where: str, field: str = ""
) -> dict[str, JSON] | None:
    value = resource.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise PatientDataError(f"{where}{field}: '{key}' should be an object")


def _list(resource: Mapping[str, JSON], key: str, where: str) -> list[JSON]:
    value = resource.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise PatientDataError(f"{where}: '{key}' should be a list")


def _number(resource: Mapping[str, JSON], key: str, where: str, field: str = "") -> float | None:
    value = resource.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PatientDataError(f"{where}{field}: '{key}' should be a number")
    return float(value)


def _concept(value: JSON, where: str, field: str = "") -> tuple[tuple[Code, ...], list[str]]:
    """A CodeableConcept -> (codes, texts to match: text first, then each display). Errors name
    `where + field` (two parts, joined only when there is an error to report)."""
    if value is None:
        return (), []
    if not isinstance(value, dict):
        raise PatientDataError(f"{where}{field} should be a CodeableConcept object")
    codes: list[Code] = []
    texts: list[str] = []
    text = value.get("text")
    if text is not None and not isinstance(text, str):
        raise PatientDataError(f"{where}{field}: 'text' should be text")
    if text:
        texts.append(text)
    codings = value.get("coding")
    if codings is None:
        return (), texts
    if not isinstance(codings, list):
        raise PatientDataError(f"{where}{field}: 'coding' should be a list")
    for coding in codings:
        if not isinstance(coding, dict):
            raise PatientDataError(f"{where}{field}: each coding should be an object")
        code = coding.get("code")
        display = coding.get("display")
        system = coding.get("system")
        key = (system, code, display)
        try:
            found = _CODES[key]
        except KeyError:
            found = _coding(code, display, system, where + field)
            if _short(system) and _short(code) and _short(display):
                if len(_CODES) >= _CODES_LIMIT:
                    _CODES.clear()
                _CODES[key] = found
        except TypeError:  # a list or an object where text belongs: _coding says so
            found = _coding(code, display, system, where + field)
        if display:
            texts.append(display)  # a str: checked by _coding
        if found is not None:
            codes.append(found)
    return tuple(codes), texts


# (system, code, display) as written -> its Code (None: no usable code). Code is immutable, so
# one instance serves every coding written the same way; bounded.
_CODES: dict[tuple[JSON, JSON, JSON], Code | None] = {}
_CODES_LIMIT = 65536
_CACHED_LENGTH = 256  # a longer text is not kept: the cache's memory stays bounded


def _short(value: JSON) -> bool:
    return not isinstance(value, str) or len(value) <= _CACHED_LENGTH


def _coding(code: JSON, display: JSON, system: JSON, where: str) -> Code | None:
    """One coding's Code (None when it has no code), its fields type-checked."""
    for name, field_value in (("code", code), ("display", display), ("system", system)):
        if field_value is not None and not isinstance(field_value, str):
            raise PatientDataError(f"{where}: '{name}' should be text")
    if isinstance(code, str) and code.strip():
        return Code(short_system(system), code.strip()[:64], display)  # type: ignore[arg-type]
    return None


def _status_code(value: JSON, where: str, field: str = "") -> str | None:
    """The code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    codes, _ = _concept(value, where, field)
    return codes[0].code.lower() if codes else None


def _date(value: JSON, where: str, field: str = "", *, end: bool = False) -> date | None:
    return None if value is None else parse_fhir_date(value, where, end=end, field=field)


def _period(value: JSON, where: str, field: str = "") -> tuple[date | None, date | None]:
    if value is None:
        return None, None
    where += field
    if not isinstance(value, dict):
        raise PatientDataError(f"{where} should be a Period object")
    start = _date(value.get("start"), where, ".start")
    end = _date(value.get("end"), where, ".end", end=True)
    return start, end


def _best_text(texts: list[str], codes: tuple[Code, ...]) -> str:
    if texts:
        return texts[0][:200]
    if codes:
        first = codes[0]
        return f"{first.system or 'code'} {first.code}"
    return "(no name or code)"


# ====================================================================== resource readers


class _Reader:
    def __init__(
        self,
        matcher: Matcher,
        as_of: date,
        counts: _Counts,
        profile: PatientProfile,
        medications: dict[str, Resource],
    ) -> None:
        self.m = matcher
        self.as_of = as_of
        self.counts = counts
        self.profile = profile
        self.medications = medications

    def belongs(self, resource: Resource, patient_keys: set[str], ref: str) -> bool:
        for key in ("subject", "patient"):
            target = _obj(resource, key, ref)
            if target is None:
                continue
            reference = target.get("reference")
            if reference is None:
                return True
            if not isinstance(reference, str):
                raise PatientDataError(f"{ref} {key}: 'reference' should be text")
            return not _reference_keys(reference).isdisjoint(patient_keys)
        return True

    def read(self, resource: Resource, ref: str) -> None:
        kind = str(resource["resourceType"])
        if kind == "Condition":
            self.condition(resource, ref)
        elif kind in _MEDICATION_TYPES:
            self.medication(resource, ref, kind)
        elif kind == "AllergyIntolerance":
            self.allergy(resource, ref)
        elif kind == "Observation":
            self.observation(resource, ref)

    # ------------------------------------------------------------ Condition
    def condition(self, res: Resource, ref: str) -> None:
        verification = _status_code(res.get("verificationStatus"), ref, " verificationStatus")
        if verification in _IGNORED_VERIFICATION:
            self.counts.ignored_status += 1
            return
        clinical = _status_code(res.get("clinicalStatus"), ref, " clinicalStatus")
        if clinical is not None and clinical not in _CLINICAL:
            raise PatientDataError(f"{ref}: clinicalStatus '{clinical}' is not a FHIR status")
        onset = _date(res.get("onsetDateTime"), ref, " onsetDateTime")
        if onset is None:
            onset = _period(res.get("onsetPeriod"), ref, " onsetPeriod")[0]
        recorded = _date(res.get("recordedDate"), ref, " recordedDate")
        abated = _date(res.get("abatementDateTime"), ref, " abatementDateTime", end=True)
        if abated is None:
            abated = _period(res.get("abatementPeriod"), ref, " abatementPeriod")[1]
        began = onset or recorded
        if began is not None and began > self.as_of:
            self.counts.future += 1
            return
        if abated is not None:
            active = abated > self.as_of
        elif clinical is not None:
            active = clinical in _ACTIVE_CLINICAL
        else:
            active = res.get("abatementString") is None and res.get("abatementBoolean") is not True
        codes, texts = _concept(res.get("code"), ref, " code")
        match = self.m.match_condition(codes, texts)
        fact = ConditionFact(
            ref=ref,
            text=_best_text(texts, codes),
            codes=codes,
            active=active,
            onset=began,
            abated=abated,
            unconfirmed=verification in _UNCONFIRMED,
            concepts=match.concepts,
            indications=match.indications,
            indication_match=match.indication_match,
            ambiguous=match.ambiguous,
        )
        self.profile.conditions.append(fact)
        if match.ambiguous:
            self.profile.not_assessed.append(
                NotAssessedItem(
                    "condition",
                    fact.text,
                    "the code is shared by several conditions ("
                    + ", ".join(match.ambiguous)
                    + ") and the text does not say which",
                    ref,
                )
            )
        elif not match.concepts and not match.indications:
            if active:
                self.profile.not_assessed.append(
                    NotAssessedItem("condition", fact.text, "not recognised by any rule", ref)
                )
            else:
                self.counts.resolved_unrecognised += 1

    # ------------------------------------------------------------ medications
    def medication(self, res: Resource, ref: str, kind: str) -> None:
        raw_status = _str(res, "status", ref)
        table = _MED_STATUS[kind]
        if raw_status is None:
            status: MedStatus | None = MedStatus.UNKNOWN
        elif raw_status in table:
            status = table[raw_status]
        else:
            raise PatientDataError(f"{ref}: status '{raw_status[:40]}' is not a FHIR {kind} status")
        if status is None:
            self.counts.ignored_status += 1
            return
        codes, texts = self._medication_concept(res, ref)
        start, end, end_known = self._medication_dates(res, ref, kind)
        if start is not None and start > self.as_of:
            self.counts.future += 1
            return
        ended = end_known and end is not None and end < self.as_of
        if status is MedStatus.CURRENT and ended and kind != "MedicationAdministration":
            status = MedStatus.PAST  # the recorded period ended before the as-of date
        supply_left = end is not None and end >= self.as_of
        if kind == "MedicationDispense" and status is MedStatus.PAST and supply_left:
            status = MedStatus.CURRENT  # the dispensed supply still covers the as-of date
        match = self.m.match_drug(codes, texts)
        fact = MedicationFact(
            ref=ref,
            text=_best_text(texts, codes),
            codes=codes,
            status=status,
            raw_status=raw_status,
            start=start,
            last_date=end if end is not None else start,
            end_known=end_known and end is not None,
            ingredients=match.ingredients,
            classes=match.classes,
            recognised=match.recognised,
            unrecognised_parts=match.unrecognised_parts,
            checked_by=match.checked_by,
            unlisted_ingredients=match.unlisted_ingredients,
        )
        self.profile.medications.append(fact)
        if not match.recognised:
            parts = ", ".join(match.unrecognised_parts) or "no usable name or code"
            self.profile.not_assessed.append(
                NotAssessedItem(
                    "medication",
                    fact.text,
                    f"ingredients not recognised ({parts[:120]}): check it contains no opioid",
                    ref,
                )
            )

    def _medication_concept(self, res: Resource, ref: str) -> tuple[tuple[Code, ...], list[str]]:
        concept = res.get("medicationCodeableConcept")
        if concept is not None:
            return _concept(concept, ref, " medicationCodeableConcept")
        target = _obj(res, "medicationReference", ref)
        if target is None:
            return (), []
        reference = _str(target, "reference", ref, " medicationReference")
        display = _str(target, "display", ref, " medicationReference")
        medication = None
        if reference:
            if reference.startswith("#"):
                medication = self._contained(res, reference[1:], ref)
            else:
                for key in _reference_keys(reference):
                    medication = self.medications.get(key) or medication
        if medication is None:
            return (), [display] if display else []
        return self._medication_resource(medication, ref, display)

    def _contained(self, res: Resource, ident: str, ref: str) -> Resource | None:
        for item in _list(res, "contained", ref):
            if isinstance(item, dict) and item.get("id") == ident:
                return item
        return None

    def _medication_resource(
        self, medication: Resource, ref: str, display: str | None
    ) -> tuple[tuple[Code, ...], list[str]]:
        where = f"{ref} medication"
        codes, texts = _concept(medication.get("code"), where, " code")
        all_codes = list(codes)
        all_texts = list(texts)
        parts: list[str] = []
        for ingredient in _list(medication, "ingredient", where):
            if not isinstance(ingredient, dict):
                raise PatientDataError(f"{where}: each ingredient should be an object")
            item_codes, item_texts = _concept(
                ingredient.get("itemCodeableConcept"), where, " ingredient"
            )
            all_codes.extend(item_codes)
            if item_texts:
                parts.append(item_texts[0])
        if parts:  # ingredients listed one by one read like an RxNorm name
            all_texts.append(" / ".join(parts))
        if display:
            all_texts.append(display)
        return tuple(all_codes), all_texts

    def _medication_dates(
        self, res: Resource, ref: str, kind: str
    ) -> tuple[date | None, date | None, bool]:
        """(start, last covered day, whether that last day is recorded rather than assumed)."""
        start: date | None = None
        end: date | None = None
        if kind == "MedicationRequest":
            start = _date(res.get("authoredOn"), ref, " authoredOn")
            dispense = _obj(res, "dispenseRequest", ref)
            if dispense is not None:
                v_start, v_end = _period(dispense.get("validityPeriod"), ref, " validityPeriod")
                start = start or v_start
                end = v_end
                supply = _duration_days(dispense.get("expectedSupplyDuration"), ref)
                if end is None and supply is not None and start is not None:
                    end = plus_days(start, supply)
            for dosage in _list(res, "dosageInstruction", ref):
                if not isinstance(dosage, dict):
                    raise PatientDataError(f"{ref}: each dosageInstruction should be an object")
                timing = _obj(dosage, "timing", ref, " dosageInstruction")
                repeat = _obj(timing, "repeat", ref, " timing") if timing else None
                if repeat is not None:
                    b_start, b_end = _period(repeat.get("boundsPeriod"), ref, " boundsPeriod")
                    start = start or b_start
                    end = end or b_end
        elif kind in ("MedicationStatement", "MedicationAdministration"):
            start = _date(res.get("effectiveDateTime"), ref, " effectiveDateTime")
            if start is not None and kind == "MedicationAdministration":
                end = start  # a single administration
            p_start, p_end = _period(res.get("effectivePeriod"), ref, " effectivePeriod")
            start = start or p_start
            end = end or p_end
            if start is None and kind == "MedicationStatement":
                start = _date(res.get("dateAsserted"), ref, " dateAsserted")
        else:  # MedicationDispense
            start = _date(res.get("whenHandedOver"), ref, " whenHandedOver")
            start = start or _date(res.get("whenPrepared"), ref, " whenPrepared")
            supply_obj = _obj(res, "daysSupply", ref)
            days = _number(supply_obj, "value", ref, " daysSupply") if supply_obj else None
            if days is not None and start is not None and 0 <= days <= 3650:
                end = plus_days(start, int(days))
        return start, end, end is not None

    # ------------------------------------------------------------ AllergyIntolerance
    def allergy(self, res: Resource, ref: str) -> None:
        verification = _status_code(res.get("verificationStatus"), ref, " verificationStatus")
        if verification in _IGNORED_VERIFICATION:
            self.counts.ignored_status += 1
            return
        clinical = _status_code(res.get("clinicalStatus"), ref, " clinicalStatus")
        categories = [c for c in _list(res, "category", ref) if isinstance(c, str)]
        codes, texts = _concept(res.get("code"), ref, " code")
        match = self.m.match_drug(codes, texts)
        fact = AllergyFact(
            ref=ref,
            text=_best_text(texts, codes),
            codes=codes,
            active=clinical in (None, "active"),
            category=categories[0] if categories else None,
            ingredients=match.ingredients,
            classes=match.classes,
        )
        self.profile.allergies.append(fact)
        if not match.ingredients:
            if fact.category in (None, "medication", "biologic"):
                self.profile.not_assessed.append(
                    NotAssessedItem("allergy", fact.text, "substance not recognised", ref)
                )
            else:
                self.counts.non_drug_allergies += 1

    # ------------------------------------------------------------ Observation
    def observation(self, res: Resource, ref: str) -> None:
        codes, texts = _concept(res.get("code"), ref, " code")
        lab = self.m.lab_for(codes)
        if lab is None:
            self.counts.unused_observations += 1
            return
        status = _str(res, "status", ref)
        if status is not None and status not in _OBSERVATION_STATUSES:
            raise PatientDataError(
                f"{ref}: status '{status[:40]}' is not a FHIR Observation status"
            )
        if status is not None and status not in _OBSERVATION_USED:
            self.counts.ignored_status += 1
            return
        effective = _date(res.get("effectiveDateTime"), ref, " effectiveDateTime")
        if effective is None:
            effective = _period(res.get("effectivePeriod"), ref, " effectivePeriod")[1]
        if effective is None:
            effective = _date(res.get("effectiveInstant"), ref, " effectiveInstant")
        if effective is None:
            effective = _date(res.get("issued"), ref, " issued")
        if effective is not None and effective > self.as_of:
            self.counts.future += 1
            return
        value: float | None = None
        unit: str | None = None
        value_text: str | None = None
        quantity = _obj(res, "valueQuantity", ref)
        if quantity is not None:
            value = _number(quantity, "value", ref, " valueQuantity")
            unit = _str(quantity, "unit", ref, " valueQuantity") or _str(
                quantity, "code", ref, " valueQuantity"
            )
        coded = res.get("valueCodeableConcept")
        if coded is not None:
            value_codes, value_texts = _concept(coded, ref, " valueCodeableConcept")
            value_text = _best_text(value_texts, value_codes)
        string_value = _str(res, "valueString", ref)
        if string_value is not None:
            value_text = string_value[:200]
        if isinstance(res.get("valueBoolean"), bool):
            value_text = "positive" if res["valueBoolean"] else "negative"
        flag = self._interpretation(res, ref, value)
        result = _qualitative(value_text, flag)
        if value is None and result is None and value_text is None:
            self.profile.not_assessed.append(
                NotAssessedItem("observation", _best_text(texts, codes), "no usable value", ref)
            )
            return
        self.profile.labs.append(
            LabFact(
                ref=ref,
                lab=lab,
                text=_best_text(texts, codes),
                effective=effective,
                value=value,
                unit=unit,
                result=result,
                flag=flag,
                value_text=value_text,
            )
        )

    def _interpretation(self, res: Resource, ref: str, value: float | None) -> str | None:
        for item in _list(res, "interpretation", ref):
            codes, _ = _concept(item, ref, " interpretation")
            for code in codes:
                upper = code.code.upper()
                if upper in {"H", "HH", "HU", ">"}:
                    return "high"
                if upper in {"L", "LL", "LU", "<"}:
                    return "low"
                if upper == "N":
                    return "normal"
                if upper in {"POS", "DET", "A", "AA"}:
                    return "abnormal" if upper in {"A", "AA"} else "positive"
                if upper in {"NEG", "ND"}:
                    return "negative"
        if value is None:
            return None
        for item in _list(res, "referenceRange", ref):
            if not isinstance(item, dict):
                raise PatientDataError(f"{ref}: each referenceRange should be an object")
            high = _obj(item, "high", ref, " referenceRange")
            low = _obj(item, "low", ref, " referenceRange")
            high_value = _number(high, "value", ref, " referenceRange.high") if high else None
            low_value = _number(low, "value", ref, " referenceRange.low") if low else None
            if high_value is not None and value > high_value:
                return "high"
            if low_value is not None and value < low_value:
                return "low"
            if high_value is not None or low_value is not None:
                return "normal"
        return None


def _qualitative(value_text: str | None, flag: str | None) -> str | None:
    if flag in ("positive", "negative"):
        return flag
    if value_text is None:
        return None
    lowered = value_text.lower()
    if _NEGATIVE_WORDS.search(lowered):
        return "negative"
    if _POSITIVE_WORDS.search(lowered):
        return "positive"
    return None


def _duration_days(value: JSON, ref: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PatientDataError(f"{ref}: expectedSupplyDuration should be an object")
    amount = _number(value, "value", ref, " expectedSupplyDuration")
    unit = (_str(value, "code", ref) or _str(value, "unit", ref) or "d").lower()
    factor = _DURATION_DAYS.get(unit)
    if amount is None or factor is None or not 0 <= amount <= 3650:
        return None
    return int(amount * factor)


# ====================================================================== summary lines


def _summarise(profile: PatientProfile, counts: _Counts) -> None:
    profile.skipped_types = dict(sorted(counts.skipped_types.items()))
    notes = profile.not_assessed
    if counts.skipped_types:
        listing = ", ".join(f"{k} ×{v}" for k, v in sorted(counts.skipped_types.items()))
        notes.append(NotAssessedItem("resource", "other resource types", f"not used: {listing}"))
    if counts.other_patient:
        notes.append(
            NotAssessedItem(
                "resource",
                f"{counts.other_patient} resource(s)",
                OTHER_PATIENT_REASON,
            )
        )
    if counts.future:
        notes.append(
            NotAssessedItem(
                "resource",
                f"{counts.future} record(s)",
                f"dated after the as-of date {profile.as_of.isoformat()} and left out",
            )
        )
    if counts.ignored_status:
        notes.append(
            NotAssessedItem(
                "resource",
                f"{counts.ignored_status} record(s)",
                "marked entered-in-error, refuted, cancelled or not taken, and left out",
            )
        )
    if counts.unused_observations:
        notes.append(
            NotAssessedItem(
                "observation",
                f"{counts.unused_observations} observation(s)",
                "codes no rule uses (vital signs, panels, questionnaires...)",
            )
        )
    if counts.resolved_unrecognised:
        notes.append(
            NotAssessedItem(
                "condition",
                f"{counts.resolved_unrecognised} resolved condition(s)",
                "not recognised by any rule",
            )
        )
    if counts.non_drug_allergies:
        notes.append(
            NotAssessedItem(
                "allergy",
                f"{counts.non_drug_allergies} food or environmental allergy record(s)",
                "not relevant to the rules",
            )
        )
    if counts.no_resource:
        notes.append(
            NotAssessedItem("resource", f"{counts.no_resource} bundle entr(ies)", "no resource")
        )


# ====================================================================== one medication record


def medication_of(
    resource: Mapping[str, JSON],
    medications: Mapping[str, Resource] | None = None,
    *,
    kb: KnowledgeBase | None = None,
) -> tuple[tuple[Code, ...], list[str]]:
    """(codes, names) of what one medication record (a MedicationRequest, for instance) gives,
    read exactly as the profile reads it: its medicationCodeableConcept, or the Medication its
    medicationReference names: contained ('#id') or in `medications` (keyed by 'Medication/id'
    and by fullUrl). Raises PatientDataError on a malformed field."""
    res = _resource(dict(resource), "the medication record")
    kb = kb or get_knowledge()
    holder = PatientProfile(id="-", as_of=date.today(), source="-")
    reader = _Reader(matcher_for(kb), holder.as_of, _Counts(), holder, dict(medications or {}))
    return reader._medication_concept(res, _ref_of(res, 1))


def medication_keys(resource: Mapping[str, JSON], full_url: str | None = None) -> list[str]:
    """The keys under which a reference may name this Medication ('Medication/id', fullUrl)."""
    ident = resource.get("id")
    keys = [f"Medication/{ident}"] if isinstance(ident, str) and ident else []
    if full_url:
        keys.append(full_url)
    return keys
