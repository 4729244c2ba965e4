"""Terminology matching: codes and free text -> ingredient, concept, condition and lab ids.

All codes, names and classes come from the knowledge base (terminology.yaml for drugs, labs and
clinical concepts; conditions.yaml for LDN indications). This module only knows how to read
them: how FHIR names code systems, how ICD-10-CM nests codes, and how drug names are written.

Text is normalised (lower case, apostrophes dropped, everything else that is not a letter or a
digit becomes a space) and names match as whole words, longest name first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ldn_derm.errors import KnowledgeError
from ldn_derm.knowledge import KnowledgeBase
from ldn_derm.knowledge.models import ClinicalConcept, LabThreshold, RuleParameter
from ldn_derm.patient.profile import Code

# FHIR code-system URIs (and their HL7 OIDs) -> the short names used here.
_SYSTEMS = {
    "http://snomed.info/sct": "snomed",
    "urn:oid:2.16.840.1.113883.6.96": "snomed",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm",
    "urn:oid:2.16.840.1.113883.6.90": "icd10cm",
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "urn:oid:2.16.840.1.113883.6.88": "rxnorm",
    "http://loinc.org": "loinc",
    "urn:oid:2.16.840.1.113883.6.1": "loinc",
}

# Words that describe strength, dose form, release or salt rather than what a product contains;
# a part of a drug name made only of these (and numbers) is not an ingredient we failed to know.
_DRUG_FILLER = frozenset(
    """
    mg mcg ug ml g gm kg l unt unit units iu meq mmol hr hrs h hour hours day days week actuat
    oral tablet tablets tab tabs capsule capsules cap caps solution suspension syrup elixir liquid
    injection injectable inj prefilled syringe vial ampule cartridge pen auto injector kit pack
    extended delayed release er xr sr cr ir la dr odt disintegrating orally chewable sublingual
    buccal film lozenge suppository rectal vaginal transdermal system patch spray nasal mucosal
    topical cream ointment gel lotion foam shampoo inhaler metered dose dry powder inhalation
    intrauterine ring drops ophthalmic otic mist concentrate granules packet abuse deterrent
    hydrochloride hcl sodium potassium calcium magnesium sulfate phosphate bitartrate tartrate
    succinate citrate maleate acetate hydrobromide polistirex besylate mesylate fumarate
    propionate dihydrate monohydrate anhydrous bromide chloride product products generic brand
    nda anda per each as needed prn take by mouth daily twice times of the a an for
    infusion intravenous iv intramuscular im subcutaneous sc continuous
    cough pain relief reliever strength extra maximum regular adult adults children childrens
    compounded compound low in filler fillers microcrystalline cellulose avicel lactose
    """.split()  # noqa: SIM905 - a word list reads better as prose
)
_SPLIT_PARTS = re.compile(r"\s*(?:/|\+|,|;|\band\b|\bwith\b|\bplus\b)\s*", re.IGNORECASE)


def norm(text: str) -> str:
    """Lower case; apostrophes dropped; every other non-alphanumeric run becomes one space."""
    lowered = text.lower().replace("'", "").replace("’", "")
    return re.sub(r"[^a-z0-9]+", " ", lowered).strip()


def short_system(system: object) -> str | None:
    if not isinstance(system, str):
        return None
    return _SYSTEMS.get(system.strip(), system.strip())


def icd_key(code: str) -> str:
    return code.strip().upper().replace(".", "").replace(" ", "")


class Phrases:
    """Whole-word lookup of normalised phrases in normalised text (see `norm`).

    Both are words joined by single spaces, so a phrase occurs where its words follow one
    another. Built from a dictionary keyed by first word: building costs microseconds a phrase
    (one regular-expression alternation of the same names cost ~20 ms to compile at start-up);
    `findall` gives what `re.findall` of the alternation, longest phrase first, gave.
    """

    __slots__ = ("_by_first",)

    def __init__(self, phrases: Iterable[str]) -> None:
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in sorted({p for p in phrases if p}, key=lambda p: (-len(p), p)):
            words = tuple(phrase.split(" "))
            by_first.setdefault(words[0], []).append(words)
        self._by_first = {first: tuple(found) for first, found in by_first.items()}

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def _at(self, words: list[str], i: int) -> Iterator[tuple[str, ...]]:
        """Every phrase that starts at word i, longest first."""
        for candidate in self._by_first.get(words[i], ()):
            end = i + len(candidate)
            if end <= len(words) and tuple(words[i:end]) == candidate:
                yield candidate

    def scan(self, text: str) -> tuple[list[str], list[str]]:
        """(phrases, uncovered words): non-overlapping phrases from left to right, the longest
        at each word, and the words that are in none of them."""
        words = text.split(" ") if text else []
        found: list[str] = []
        left: list[str] = []
        i = 0
        while i < len(words):
            match = next(self._at(words, i), None)
            if match is None:
                left.append(words[i])
                i += 1
            else:
                found.append(" ".join(match))
                i += len(match)
        return found, left

    def findall(self, text: str) -> list[str]:
        """Non-overlapping phrases from left to right, the longest at each word."""
        return self.scan(text)[0]

    def every(self, text: str) -> set[str]:
        """Every phrase that occurs anywhere in `text` (overlaps included)."""
        words = text.split(" ") if text else []
        return {" ".join(m) for i in range(len(words)) for m in self._at(words, i)}

    def search(self, text: str) -> bool:
        words = text.split(" ") if text else []
        return any(next(self._at(words, i), None) is not None for i in range(len(words)))


# How a medicine was checked: by an RxNorm code the knowledge base resolves, by names that cover
# every part of it, or by an RxNorm-normalised name split into its ingredients.
CHECKED_BY_CODE = "code"
CHECKED_BY_NAME = "name"
CHECKED_BY_RXNORM_NAME = "rxnorm-name"

# One ingredient with its strength, as RxNorm writes it: "Hydrochlorothiazide 25 MG",
# "insulin human, isophane 70 UNT/ML", "fentanyl 0.075 MG/HR"; the dose form may follow.
_RX_COMPONENT = re.compile(
    r"^(?P<name>[A-Za-z][A-Za-z0-9 ,'().\-]*?) (?P<num>\d+(?:\.\d+)?) "
    r"(?P<unit>[A-Z%]+(?:/[A-Z]+)?)(?: (?P<rest>.+))?$"
)
# What may precede the first ingredient: "Abuse-Deterrent", "24 HR", "1 ML", "120 ACTUAT".
_RX_PREFIX = re.compile(r"^(?:Abuse-Deterrent )?(?:\d+(?:\.\d+)? (?:HR|ML|ACTUAT|DAY) )*")
_RX_BRAND = re.compile(r" \[[^\[\]]+\]$")


@dataclass(frozen=True, slots=True)
class DrugMatch:
    ingredients: frozenset[str]
    classes: frozenset[str]
    recognised: bool  # checked: the program can say what the product contains
    unrecognised_parts: tuple[str, ...]
    checked_by: str | None = None  # CHECKED_BY_*; None when unchecked
    unlisted_ingredients: tuple[str, ...] = ()  # rxnorm-name: ingredients not in the file


@dataclass(frozen=True, slots=True)
class ConditionMatch:
    concepts: frozenset[str]
    indications: tuple[str, ...]
    indication_match: str | None  # "code" or "text"
    ambiguous: tuple[str, ...]


class Matcher:
    """Lookup tables built once from a knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        term = kb.terminology
        self._ingredient_classes = {i.id: frozenset(i.classes) for i in term.ingredients}

        # ---- drugs: codes and names -> (ingredients, product-level classes)
        self._rxcui: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        names: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        for ing in term.ingredients:
            entry = (frozenset([ing.id]), frozenset[str]())
            if ing.rxcui:
                self._rxcui[ing.rxcui] = entry
            for name in (ing.name, ing.id.replace("-", " "), *ing.synonyms):
                names[norm(name)] = entry
        for product in term.products:
            entry = (frozenset(product.ingredients), frozenset(product.classes))
            if product.rxcui:
                self._rxcui[product.rxcui] = entry
            for name in (product.name, *product.aliases):
                name_key = norm(name)
                if name_key in names and names[name_key] != entry:
                    raise KnowledgeError(
                        f"terminology.yaml: the drug name '{name}' is given two compositions"
                    )
                names[name_key] = entry
        self._drug_names = names
        self._drug_phrases = Phrases(names)
        # RxNorm drug codes from code tables (CDC OMTK): ingredients, and the table's name for
        # the code (read for ingredients the table does not list, e.g. naltrexone in Embeda)
        self._code_table = kb.drug_codes
        self._dose_forms = frozenset(f.lower() for f in term.rxnorm_dose_forms)
        self.code_table_dates = {t.id: t.generated for t in term.code_tables}

        # ---- LDN indications (conditions.yaml)
        self._indication_codes: dict[tuple[str, str], set[str]] = {}
        indication_texts: dict[str, set[str]] = {}
        for cond in kb.conditions.values():
            for coding in cond.icd10cm:
                key = ("icd10cm", icd_key(coding.code))
                self._indication_codes.setdefault(key, set()).add(cond.id)
            for coding in cond.snomed:
                self._indication_codes.setdefault(("snomed", coding.code.strip()), set()).add(
                    cond.id
                )
            for text in (cond.id.replace("-", " "), cond.name, *cond.text):  # exact names
                indication_texts.setdefault(norm(text), set()).add(cond.id)
        self._indication_texts = indication_texts
        self._indication_phrases = Phrases(indication_texts)

        # ---- clinical concepts (terminology.yaml)
        self.concepts: dict[str, ClinicalConcept] = {c.id: c for c in term.concepts}
        self._icd_prefixes: dict[str, set[str]] = {}
        self._icd_ranges: list[tuple[str, str, str]] = []
        self._snomed_concepts: dict[str, set[str]] = {}
        concept_include: dict[str, set[str]] = {}  # phrase -> concepts it names
        concept_exclude: dict[str, set[str]] = {}  # phrase -> concepts it rules out
        for concept in term.concepts:
            for coding in concept.icd10cm:
                code = coding.code.strip().upper()
                if "-" in code:
                    low, high = code.split("-", 1)
                    self._icd_ranges.append((icd_key(low)[:3], icd_key(high)[:3], concept.id))
                else:
                    self._icd_prefixes.setdefault(icd_key(code), set()).add(concept.id)
            for coding in concept.snomed:
                self._snomed_concepts.setdefault(coding.code.strip(), set()).add(concept.id)
            for text in concept.text:
                concept_include.setdefault(norm(text), set()).add(concept.id)
            for text in concept.exclude_text:
                concept_exclude.setdefault(norm(text), set()).add(concept.id)
        concept_include.pop("", None)
        concept_exclude.pop("", None)
        self._concept_include = concept_include
        self._concept_exclude = concept_exclude
        self._concept_phrases = Phrases(concept_include)
        self._exclude_phrases = Phrases(concept_exclude)
        self._negation = Phrases(norm(t) for t in term.negation_phrases)

        # ---- labs
        self._loinc: dict[str, str] = {}
        self.thresholds: dict[str, list[LabThreshold]] = {}
        for lab in term.labs:
            for coding in lab.loinc:
                self._loinc[coding.code.strip()] = lab.id
            self.thresholds[lab.id] = list(lab.thresholds)
        self.lab_names = {lab.id: lab.name for lab in term.labs}

        self.parameters: dict[str, RuleParameter] = {p.id: p for p in term.parameters}
        self._drug_cache: dict[tuple[tuple[Code, ...], tuple[str, ...]], DrugMatch] = {}
        self._condition_cache: dict[tuple[tuple[Code, ...], tuple[str, ...]], ConditionMatch] = {}

    # ------------------------------------------------------------------ parameters
    def param(self, ident: str) -> float:
        try:
            return self.parameters[ident].value
        except KeyError:
            raise KnowledgeError(
                f"terminology.yaml has no rule parameter '{ident}', which the assessment needs"
            ) from None

    def classes_of(self, ingredients: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for ing in ingredients:
            out |= self._ingredient_classes.get(ing, frozenset())
        return frozenset(out)

    # ------------------------------------------------------------------ drugs
    def match_drug(self, codes: Sequence[Code], texts: Sequence[str]) -> DrugMatch:
        key = (tuple(codes), tuple(texts))
        cached = self._drug_cache.get(key)
        if cached is None:
            cached = self._match_drug(codes, texts)
            if len(self._drug_cache) < 20_000:
                self._drug_cache[key] = cached
        return cached

    def _match_drug(self, codes: Sequence[Code], texts: Sequence[str]) -> DrugMatch:
        ingredients: set[str] = set()
        classes: set[str] = set()
        by_code = False
        texts = list(texts)
        for code in codes:
            if code.system not in ("rxnorm", None):
                continue
            if code.code in self._rxcui:
                ings, product_classes = self._rxcui[code.code]
                ingredients |= ings
                classes |= product_classes
                by_code = True
            row = self._code_table.get(code.code)
            if row is not None:
                ingredients |= row.ingredients
                texts.append(row.name)
                by_code = True
        fully_named = False
        leftovers: list[str] = []
        unique_texts = list(dict.fromkeys(t for t in texts if t and t.strip()))
        for text in unique_texts:
            found, found_classes, unknown = self._match_drug_text(text)
            ingredients |= found
            classes |= found_classes
            if found and not unknown:
                fully_named = True
            elif unknown and not leftovers:
                leftovers = unknown
        classes |= self.classes_of(ingredients)
        checked_by = CHECKED_BY_CODE if by_code else CHECKED_BY_NAME if fully_named else None
        unlisted: tuple[str, ...] = ()
        if checked_by is None:
            for text in unique_texts:
                names = self.rxnorm_ingredient_names(text)
                if names is not None:
                    checked_by = CHECKED_BY_RXNORM_NAME
                    unlisted = tuple(n for n in names if not self._known_name(n))
                    break
        recognised = checked_by is not None
        return DrugMatch(
            ingredients=frozenset(ingredients),
            classes=frozenset(classes),
            recognised=recognised,
            unrecognised_parts=() if recognised else tuple(leftovers),
            checked_by=checked_by,
            unlisted_ingredients=unlisted,
        )

    def rxnorm_ingredient_names(self, text: str) -> list[str] | None:
        """The ingredient names of an RxNorm-normalised drug name, or None if `text` is not one.

        "Hydrochlorothiazide 25 MG Oral Tablet" -> ["Hydrochlorothiazide"];
        "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet [Toprol]" ->
        ["metoprolol succinate"]. Every component needs a strength with an upper-case RxNorm
        unit, and the last one a dose form this knowledge base lists."""
        body = _RX_BRAND.sub("", text.strip())
        body = _RX_PREFIX.sub("", body)
        components = body.split(" / ")
        names: list[str] = []
        for i, component in enumerate(components):
            found = _RX_COMPONENT.match(component.strip())
            if found is None:
                return None
            rest = found.group("rest")
            last = i == len(components) - 1
            if (rest is not None) != last:
                return None
            if last and (rest is None or rest.lower() not in self._dose_forms):
                return None
            names.append(found.group("name").strip())
        return names or None

    def _known_name(self, name: str) -> bool:
        return self._drug_phrases.search(norm(name))

    def _match_drug_text(self, text: str) -> tuple[set[str], set[str], list[str]]:
        ingredients: set[str] = set()
        classes: set[str] = set()
        whole = norm(text)
        for found in self._drug_phrases.findall(whole):
            ings, product_classes = self._drug_names[found]
            ingredients |= ings
            classes |= product_classes
        unknown: list[str] = []
        for part in _SPLIT_PARTS.split(text):
            words = [w for w in norm(part).split() if w not in _DRUG_FILLER and not _has_digit(w)]
            if not words:
                continue
            # a part is named only when every word of it is part of a known name (or a dose,
            # form or salt word): in "Tylenol Codein" the misspelled opioid must not hide
            # behind the known brand beside it
            rest = self._drug_phrases.scan(norm(part))[1]
            left = [w for w in rest if w not in _DRUG_FILLER and not _has_digit(w)]
            if left:
                unknown.append(" ".join(left) if len(left) < len(words) else " ".join(words))
        return ingredients, classes, unknown

    # ------------------------------------------------------------------ conditions
    def match_condition(self, codes: Sequence[Code], texts: Sequence[str]) -> ConditionMatch:
        key = (tuple(codes), tuple(texts))
        cached = self._condition_cache.get(key)
        if cached is None:
            cached = self._match_condition(codes, texts)
            if len(self._condition_cache) < 20_000:
                self._condition_cache[key] = cached
        return cached

    def _match_condition(self, codes: Sequence[Code], texts: Sequence[str]) -> ConditionMatch:
        concepts: set[str] = set()
        by_code: set[str] = set()
        for code in codes:
            system = code.system
            if system in ("icd10cm", "icd10") or (system is None and _looks_icd(code.code)):
                icd = icd_key(code.code)
                by_code |= self._indication_codes.get(("icd10cm", icd), set())
                concepts |= self._icd_concepts(icd)
            if system == "snomed" or (system is None and code.code.strip().isdigit()):
                snomed = code.code.strip()
                by_code |= self._indication_codes.get(("snomed", snomed), set())
                concepts |= self._snomed_concepts.get(snomed, set())

        by_text: set[str] = set()
        for text in dict.fromkeys(t for t in texts if t and t.strip()):
            normalised = norm(text)
            if self._negation.search(normalised):
                continue
            by_text |= self._indications_from_text(text, normalised)
            named = {
                c for p in self._concept_phrases.every(normalised) for c in self._concept_include[p]
            }
            if named:
                ruled_out = {
                    c
                    for p in self._exclude_phrases.every(normalised)
                    for c in self._concept_exclude[p]
                }
                concepts |= named - ruled_out

        ambiguous: tuple[str, ...] = ()
        if by_code:
            if len(by_code) == 1:
                return ConditionMatch(frozenset(concepts), tuple(by_code), "code", ())
            narrowed = by_code & by_text
            if narrowed:
                return ConditionMatch(frozenset(concepts), tuple(sorted(narrowed)), "code", ())
            ambiguous = tuple(sorted(by_code))
            return ConditionMatch(frozenset(concepts), (), None, ambiguous)
        if by_text:
            return ConditionMatch(frozenset(concepts), tuple(sorted(by_text)), "text", ())
        return ConditionMatch(frozenset(concepts), (), None, ambiguous)

    def _indications_from_text(self, text: str, normalised: str) -> set[str]:
        # Whole-word names only: KnowledgeBase.find_condition also accepts a record text that is
        # merely a substring of a name ("burn injury" in "pruritus after burn injury"), which
        # is right for a typed query but wrong for a diagnosis in a record.
        exact = self._indication_texts.get(normalised)
        if exact:
            return set(exact)
        found: set[str] = set()
        for name in self._indication_phrases.findall(normalised):
            found |= self._indication_texts[name]
        return found

    def _icd_concepts(self, icd: str) -> set[str]:
        found: set[str] = set()
        for end in range(1, len(icd) + 1):
            found |= self._icd_prefixes.get(icd[:end], set())
        category = icd[:3]
        for low, high, concept_id in self._icd_ranges:
            if low <= category <= high:
                found.add(concept_id)
        return found

    # ------------------------------------------------------------------ labs
    def lab_for(self, codes: Sequence[Code]) -> str | None:
        for code in codes:
            if code.system in ("loinc", None):
                lab = self._loinc.get(code.code.strip())
                if lab is not None:
                    return lab
        return None


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _looks_icd(code: str) -> bool:
    return re.fullmatch(r"[A-Za-z]\d[0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?", code.strip()) is not None


_MATCHERS: dict[int, Matcher] = {}


def matcher_for(kb: KnowledgeBase) -> Matcher:
    """The Matcher for `kb`, built on first use and kept for the process."""
    cached = _MATCHERS.get(id(kb))
    if cached is None or cached.kb is not kb:
        cached = Matcher(kb)
        _MATCHERS[id(kb)] = cached
    return cached
