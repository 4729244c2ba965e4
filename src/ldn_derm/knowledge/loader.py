"""Read the YAML data files, validate them, check their cross-references, cache the result.

A broken file fails the whole load with a message naming the file, the entry and the problem,
so a pharmacist editing the YAML sees exactly what to fix.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from ldn_derm.errors import KnowledgeError
from ldn_derm.knowledge.base import DrugCode, KnowledgeBase
from ldn_derm.knowledge.models import (
    Comparator,
    Condition,
    Drug,
    EvidenceEntry,
    LdnOption,
    MedicineConcern,
    Meta,
    PkpdParameters,
    Protocols,
    Reference,
    SafetyItem,
    Terminology,
)

DATA_DIR = Path(__file__).parent / "data"

M = TypeVar("M")

# The C loader is several times faster; fall back where libyaml is missing.
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(f"{_rel(path)}: file is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{_rel(path)}: cannot be read ({exc})") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise KnowledgeError(f"{_rel(path)}:{where} is not valid YAML ({problem})") from None


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(DATA_DIR.parent.parent))
    except ValueError:
        return str(path)


# What the constraints in models.py mean, for the person editing the YAML.
_PREDICATES = {
    "is_slug": "must be lower-case letters, digits and hyphens (e.g. 'albers-2017')",
    "is_digits": "must be digits only",
    "is_pmid": "must be a PubMed id of 5 to 9 digits",
    "is_doi": "must be a DOI such as 10.1001/jamadermatol.2017.0001",
    "is_csv_file_name": "must be a file name ending in .csv",
    "is_version": "must be a version such as 0.2.0",
}


def _message(err: Any) -> str:
    kind = err.get("type")
    if kind == "unexpected_keyword_argument":
        return "is not a known field (a typo?)"
    if kind == "predicate_failed":  # msg: "Predicate 'is_slug' failed"
        name = str(err["msg"]).split("'")[1] if "'" in str(err["msg"]) else ""
        return _PREDICATES.get(name, str(err["msg"]))
    return str(err["msg"])


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        parts.append(f"field '{loc}': {_message(err)}")
    return "; ".join(parts)


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(model: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def validate(model: type[M], data: Any) -> M:
    """`data` (parsed YAML) as a `model` record; pydantic.ValidationError if it does not fit."""
    result: M = _adapter(model).validate_python(data)
    return result


def _validate_one(model: type[M], data: Any, path: Path, what: str) -> M:
    try:
        return validate(model, data)
    except ValidationError as exc:
        raise KnowledgeError(f"{_rel(path)}: {what}: {_explain(exc)}") from None


def _validate_list(model: type[M], path: Path, key: str) -> list[M]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or key not in data:
        raise KnowledgeError(f"{_rel(path)}: expected a top-level '{key}:' list")
    items = data[key]
    if not isinstance(items, list):
        raise KnowledgeError(f"{_rel(path)}: '{key}' must be a list")
    out = []
    for i, item in enumerate(items, start=1):
        ident = item.get("id") if isinstance(item, dict) else None
        what = f"entry '{ident}' (#{i})" if ident else f"entry #{i}"
        out.append(_validate_one(model, item, path, what))
    return out


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise KnowledgeError(f"{_rel(directory)}: folder is missing")
    return sorted(directory.glob("*.yaml"))


def _unique(items: list[M], path_of: dict[str, Path], kind: str) -> dict[str, M]:
    out: dict[str, M] = {}
    for item in items:
        ident = str(getattr(item, "id"))  # noqa: B009 - every keyed model has an id
        if ident in out:
            raise KnowledgeError(f"{_rel(path_of[ident])}: duplicate {kind} id '{ident}'")
        out[ident] = item
    return out


def iter_refs(obj: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Yield (reference id, location) for every `refs` / `*_refs` field in a model tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for spec in dataclasses.fields(obj):
            name = spec.name
            value = getattr(obj, name)
            here = f"{where}.{name}" if where else name
            if (name == "refs" or name.endswith("_refs")) and isinstance(value, list):
                for ref in value:
                    yield str(ref), here
            else:
                yield from iter_refs(value, here)
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            ident = getattr(item, "id", None)
            yield from iter_refs(item, f"{where}[{ident if ident else i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from iter_refs(item, f"{where}[{key}]")


def load(data_dir: Path = DATA_DIR) -> KnowledgeBase:
    """Load and check the whole knowledge base from `data_dir` (uncached)."""
    meta = _validate_one(Meta, _read_yaml(data_dir / "meta.yaml"), data_dir / "meta.yaml", "meta")

    ref_paths: dict[str, Path] = {}
    references: list[Reference] = []
    for path in _files(data_dir / "references"):
        for ref in _validate_list(Reference, path, "references"):
            if ref.id in ref_paths:
                raise KnowledgeError(
                    f"{_rel(path)}: reference '{ref.id}' is already defined in "
                    f"{_rel(ref_paths[ref.id])}"
                )
            ref_paths[ref.id] = path
            references.append(ref)

    evidence: list[EvidenceEntry] = []
    ev_paths: dict[str, Path] = {}
    for path in _files(data_dir / "evidence"):
        for entry in _validate_list(EvidenceEntry, path, "evidence"):
            ev_paths.setdefault(entry.id, path)
            evidence.append(entry)

    cond_path = data_dir / "conditions.yaml"
    conditions = _validate_list(Condition, cond_path, "conditions")
    safety_path = data_dir / "safety.yaml"
    safety = _validate_list(SafetyItem, safety_path, "safety")
    comp_path = data_dir / "comparators.yaml"
    comparators = _validate_list(Comparator, comp_path, "comparators")
    medicine_concerns = _validate_list(MedicineConcern, comp_path, "medicine_concerns")
    comp_data = _read_yaml(comp_path)
    ldn_option = _validate_one(LdnOption, comp_data.get("ldn"), comp_path, "ldn")
    drug_path = data_dir / "drug.yaml"
    drug = _validate_one(Drug, _read_yaml(drug_path), drug_path, "drug")
    term_path = data_dir / "terminology.yaml"
    terminology = _validate_one(Terminology, _read_yaml(term_path), term_path, "terminology")
    pkpd_path = data_dir / "pkpd.yaml"
    pkpd = _validate_one(PkpdParameters, _read_yaml(pkpd_path), pkpd_path, "pkpd")
    protocols_path = data_dir / "protocols.yaml"
    protocols = _validate_one(Protocols, _read_yaml(protocols_path), protocols_path, "protocols")

    drug_codes = _load_code_tables(data_dir, terminology)

    kb = KnowledgeBase(
        meta=meta,
        references=_unique(references, ref_paths, "reference"),
        conditions=_unique(
            conditions, dict.fromkeys([c.id for c in conditions], cond_path), "condition"
        ),
        evidence=_unique(evidence, ev_paths, "evidence"),
        safety=_unique(safety, dict.fromkeys([s.id for s in safety], safety_path), "safety"),
        comparators=_unique(
            comparators, dict.fromkeys([c.id for c in comparators], comp_path), "comparator"
        ),
        drug=drug,
        terminology=terminology,
        pkpd=pkpd,
        protocols=protocols,
        ldn_option=ldn_option,
        medicine_concerns=tuple(medicine_concerns),
        drug_codes=drug_codes,
    )
    _check_links(kb, data_dir, ev_paths)
    return kb


_CODE_COLUMNS = ("drug_rxcui", "drug_name", "dose_form_name", "ingredient_rxcui")


def _load_code_tables(data_dir: Path, terminology: Terminology) -> dict[str, DrugCode]:
    """RxCUI -> DrugCode for every row of every declared code table (rows of one drug merge).

    Each row's ingredient must be an ingredient of terminology.yaml with that RxCUI, so a code
    always resolves to ingredient ids the rules know (and to their classes)."""
    by_rxcui = {i.rxcui: i.id for i in terminology.ingredients if i.rxcui}
    out: dict[str, DrugCode] = {}
    for table in terminology.code_tables:
        path = data_dir / "codes" / table.file
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in _CODE_COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise KnowledgeError(
                        f"{_rel(path)}: code table '{table.id}' lacks column(s) "
                        + ", ".join(missing)
                    )
                for line, row in enumerate(reader, start=2):
                    rxcui = (row["drug_rxcui"] or "").strip()
                    ingredient = by_rxcui.get((row["ingredient_rxcui"] or "").strip())
                    if not rxcui.isdigit():
                        raise KnowledgeError(f"{_rel(path)}: line {line}: bad drug_rxcui")
                    if ingredient is None:
                        raise KnowledgeError(
                            f"{_rel(path)}: line {line}: ingredient RxCUI "
                            f"'{row['ingredient_rxcui']}' is not an ingredient of "
                            "terminology.yaml"
                        )
                    known = out.get(rxcui)
                    ingredients = frozenset({ingredient}) | (
                        known.ingredients if known else frozenset()
                    )
                    out[rxcui] = DrugCode(
                        rxcui=rxcui,
                        name=row["drug_name"].strip(),
                        ingredients=ingredients,
                        dose_form=(row["dose_form_name"] or "").strip(),
                        table=table.id,
                    )
        except FileNotFoundError:
            raise KnowledgeError(f"{_rel(path)}: code table '{table.id}' file is missing") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise KnowledgeError(f"{_rel(path)}: cannot be read ({exc})") from None
    return out


# Monograph statements the program cites by id (the regimen's default time, the handout).
QUOTED_STATEMENTS = {
    "drug.yaml": ("bedtime-dosing", "approved-use", "off-label-use", "above-low-dose"),
    "pkpd.yaml": ("occupancy-measured", "blockade-outlasts-plasma"),
}


def _check_links(kb: KnowledgeBase, data_dir: Path, ev_paths: dict[str, Path]) -> None:
    problems: list[str] = []
    sources: list[tuple[str, object]] = [
        ("drug.yaml", kb.drug),
        ("safety.yaml", list(kb.safety.values())),
        ("comparators.yaml", list(kb.comparators.values())),
        ("comparators.yaml", list(kb.medicine_concerns)),
        ("terminology.yaml", kb.terminology),
        ("conditions.yaml", list(kb.conditions.values())),
        ("pkpd.yaml", kb.pkpd),
        ("protocols.yaml", kb.protocols),
    ]
    for entry in kb.evidence.values():
        sources.append((_rel(ev_paths[entry.id]).split("data/")[-1], [entry]))

    used: set[str] = set()
    for file, tree in sources:
        for ref, where in iter_refs(tree):
            used.add(ref)
            if ref not in kb.references:
                problems.append(f"{file}: {where} cites unknown reference '{ref}'")

    for entry in kb.evidence.values():
        if entry.condition not in kb.conditions:
            problems.append(
                f"{_rel(ev_paths[entry.id]).split('data/')[-1]}: entry '{entry.id}' names "
                f"unknown condition '{entry.condition}'"
            )

    ingredient_ids = {i.id for i in kb.terminology.ingredients}
    if kb.drug.ingredient not in ingredient_ids:
        problems.append(f"drug.yaml: ingredient '{kb.drug.ingredient}' is not in terminology")
    for product in kb.terminology.products:
        for ing in product.ingredients:
            if ing not in ingredient_ids:
                problems.append(
                    f"terminology.yaml: product '{product.name}' names unknown ingredient '{ing}'"
                )

    for fact in (
        *kb.ldn_option.baseline_risks,
        *kb.ldn_option.screening,
        *kb.ldn_option.monitoring,
    ):
        for item in fact.safety:
            if item not in kb.safety:
                problems.append(f"comparators.yaml: ldn cites unknown safety item '{item}'")
    for concern in kb.medicine_concerns:
        for ing in concern.ingredients:
            if ing not in ingredient_ids:
                problems.append(
                    f"comparators.yaml: medicine concern '{concern.concern.value}' names "
                    f"unknown ingredient '{ing}'"
                )
    for comp in kb.comparators.values():
        for cond in comp.conditions:
            if cond not in kb.conditions:
                problems.append(f"comparators.yaml: '{comp.id}' names unknown condition '{cond}'")

    cited = [r.range for r in kb.drug.low_dose_ranges]
    canon = kb.drug.canonical_low_dose
    if not any(r.low <= canon.low and canon.high <= r.high for r in cited):
        problems.append(
            f"drug.yaml: canonical_low_dose {canon.label()} lies outside every cited low-dose range"
        )

    lookups = {"drug.yaml": kb.drug.statement, "pkpd.yaml": kb.pkpd.statement}
    for file, statement_ids in QUOTED_STATEMENTS.items():
        for statement_id in statement_ids:
            try:
                lookups[file](statement_id)
            except KeyError:
                problems.append(
                    f"{file}: no statement has id '{statement_id}' (the program quotes it)"
                )

    for ref_id in kb.references:
        if ref_id not in used:
            problems.append(f"references: '{ref_id}' is never cited (remove it or cite it)")

    if problems:
        listing = "\n  - ".join(problems)
        raise KnowledgeError(
            f"knowledge base in {data_dir} has {len(problems)} problem(s):\n  - {listing}"
        )
