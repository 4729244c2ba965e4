"""Small synthetic Bulk Data exports written to a folder, and the per-patient Bundle oracle."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from ldn_derm.assess import Finding, assess
from ldn_derm.patient import load_patient

Resource = dict[str, Any]


def patient(
    pid: str, *, born: str = "1970-01-01", gender: str = "female", **extra: Any
) -> Resource:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": born, **extra}


def med_request(
    rid: str,
    pid: str,
    text: str,
    *,
    status: str = "active",
    authored: str = "2024-05-01",
    rxnorm: str | None = None,
) -> Resource:
    concept: dict[str, Any] = {"text": text}
    if rxnorm:
        concept["coding"] = [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": rxnorm,
                "display": text,
            }
        ]
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": authored,
    }


def condition(
    rid: str, pid: str, text: str, *, onset: str = "2020-01-01", code: tuple[str, str] | None = None
) -> Resource:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": code[0], "code": code[1], "display": text}]
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": concept,
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": onset,
    }


def encounter(rid: str, pid: str, start: str) -> Resource:
    return {
        "resourceType": "Encounter",
        "id": rid,
        "status": "finished",
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": start, "end": start},
    }


def write_export(folder: Path, resources: list[Resource], *, gz: bool = False) -> Path:
    """One `<Type>.000.ndjson[.gz]` file per resource type, in the given order."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[bytes]] = defaultdict(list)
    for resource in resources:
        by_type[resource["resourceType"]].append(orjson.dumps(resource))
    for kind, lines in by_type.items():
        data = b"\n".join(lines) + b"\n"
        if gz:
            (folder / f"{kind}.000.ndjson.gz").write_bytes(gzip.compress(data))
        else:
            (folder / f"{kind}.000.ndjson").write_bytes(data)
    return folder


def _patient_of(resource: Resource) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource["id"])
    for key in ("subject", "patient"):
        target = resource.get(key)
        if isinstance(target, dict):
            ref = str(target.get("reference", ""))
            return ref.split("Patient/", 1)[1] if "Patient/" in ref else None
    return None


def bundle_findings(folder: Path, as_of: date) -> dict[str, list[Finding]]:
    """The oracle: each patient's resources (and the Medications they reference) gathered into
    a Bundle, in file order, and run through `load_patient` + `assess` like `ldn assess`."""
    files = sorted(p for p in folder.iterdir() if ".ndjson" in p.name and p.name[0].isupper())
    resources: list[Resource] = []
    for path in files:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        resources += [json.loads(line) for line in data.splitlines() if line.strip()]
    medications = {
        f"Medication/{r['id']}": r for r in resources if r["resourceType"] == "Medication"
    }
    grouped: dict[str, list[Resource]] = defaultdict(list)
    for resource in resources:
        pid = _patient_of(resource)
        if pid is None:
            continue
        grouped[pid].append(resource)
        ref = (resource.get("medicationReference") or {}).get("reference")
        if ref in medications:
            grouped[pid].append(medications[ref])
    result: dict[str, list[Finding]] = {}
    for pid, items in grouped.items():
        if not any(r["resourceType"] == "Patient" for r in items):
            continue
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in items],
        }
        profile = load_patient(orjson.dumps(bundle), as_of=as_of, name=f"{pid}.json")
        result[pid] = assess(profile).findings
    return result


def screen_rows_match_assess(folder: Path, as_of: date, out: Path) -> list[dict[str, Any]]:
    """Screen `folder` in process into `out` (JSON) and check that the core's rows are, in
    order, exactly what `ldn assess` finds for each patient's Bundle (code and summary);
    returns every row, the screening-only ones included."""
    from ldn_derm.screen import screen_export

    screen_export(folder, as_of=as_of, out=out, fmt="json", workers=1)
    every: list[dict[str, Any]] = orjson.loads(out.read_bytes())
    rows = [r for r in every if not r["code"].startswith("screen-")]
    oracle = bundle_findings(folder, as_of)
    expected = [(pid, f.code, f.summary) for pid in sorted(oracle) for f in oracle[pid]]
    assert [(r["patient"], r["code"], r["summary"]) for r in rows] == expected
    return every


def _typed_refs(value: Any, types: dict[str, str]) -> Any:
    """`urn:uuid:X` references rewritten to `Type/X`, as a Bulk Data server writes them."""
    if isinstance(value, dict):
        out = {k: _typed_refs(v, types) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref.startswith("urn:uuid:") and ref[9:] in types:
            out["reference"] = f"{types[ref[9:]]}/{ref[9:]}"
        return out
    if isinstance(value, list):
        return [_typed_refs(v, types) for v in value]
    return value


def export_from_bundles(bundles: list[Path], folder: Path) -> Path:
    """The resources of several patient Bundles written as one Bulk Data export."""
    resources: list[Resource] = []
    for path in bundles:
        entries = [e["resource"] for e in orjson.loads(path.read_bytes()).get("entry", [])]
        types = {str(r.get("id")): str(r["resourceType"]) for r in entries}
        resources += [_typed_refs(r, types) for r in entries]
    return write_export(folder, resources)
