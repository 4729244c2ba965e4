"""Make a synthetic FHIR Bulk Data export of N patients from the shared Synthea data.

Templates: the 13 patients of ../shared/fhir/bulk-sample-10 and the patients of the Synthea
bundles in ../shared/fhir/synthea (bundle references ``urn:uuid:X`` become ``Type/X`` as a
Bulk Data server writes them). Copy *c* of a template gets every UUID rewritten (``-c<c>``
appended), so each copy is a distinct patient with consistent references.

Only the resource types `ldn screen` opens are written (Patient, Condition, MedicationRequest,
AllergyIntolerance, Observation, Encounter, Medication), so the benchmark's floor (orjson of every
line of the files) and the screen read the same bytes. A template keeps at most
--max-per-type resources of each type (the most recent by position), which bounds a patient to a
few hundred kB like a real chart.

Run: ``python benchmarks/make_bulk_export.py --patients 10000 --out benchmarks/.data/10k``.
The data is not committed (benchmarks/.data/ is git-ignored).
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "fhir"
TYPES = (
    "Patient",
    "Condition",
    "MedicationRequest",
    "AllergyIntolerance",
    "Observation",
    "Encounter",
    "Medication",
)
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Template = dict[str, list[list[bytes]]]  # type -> lines, each split at the end of each UUID


def _split(resource: dict[str, Any]) -> list[bytes]:
    data = orjson.dumps(resource)
    parts, last = [], 0
    for match in UUID.finditer(data):
        parts.append(data[last : match.end()])
        last = match.end()
    parts.append(data[last:])
    return parts


def _patient_of(resource: dict[str, Any]) -> str | None:
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    for key in ("subject", "patient"):
        target = resource.get(key)
        if isinstance(target, dict) and isinstance(target.get("reference"), str):
            return target["reference"].rsplit("/", 1)[-1].removeprefix("urn:uuid:")
    return None


def _fix_refs(value: Any, types: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _fix_refs(v, types) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref.startswith("urn:uuid:") and ref[9:] in types:
            out["reference"] = f"{types[ref[9:]]}/{ref[9:]}"
        return out
    if isinstance(value, list):
        return [_fix_refs(v, types) for v in value]
    return value


def load_templates(max_per_type: int) -> list[Template]:
    by_patient: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted((SHARED / "bulk-sample-10").glob("*.ndjson")):
        kind = path.name.split(".", 1)[0]
        if kind not in TYPES:
            continue
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            pid = _patient_of(resource)
            if pid:
                by_patient[pid][kind].append(resource)
    for path in sorted((SHARED / "synthea").glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        entries = [e["resource"] for e in bundle.get("entry", [])]
        types = {str(r.get("id")): str(r["resourceType"]) for r in entries}
        for resource in entries:
            if resource["resourceType"] not in TYPES:
                continue
            resource = _fix_refs(resource, types)
            pid = _patient_of(resource)
            if pid:
                by_patient[pid][resource["resourceType"]].append(resource)
    templates = []
    for kinds in by_patient.values():
        if "Patient" not in kinds:
            continue
        templates.append(
            {kind: [_split(r) for r in items[-max_per_type:]] for kind, items in kinds.items()}
        )
    return templates


def make_export(out: Path, patients: int, *, per_file: int = 5000, max_per_type: int = 150) -> int:
    """Write the export; returns its size in bytes."""
    templates = load_templates(max_per_type)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    handles: dict[str, Any] = {}
    size = 0
    for copy in range(patients):
        chunk = copy // per_file
        suffix = b"-c%d" % copy
        template = templates[copy % len(templates)]
        for kind, lines in template.items():
            key = f"{kind}.{chunk:03d}"
            handle = handles.get(key)
            if handle is None:
                for old in [k for k in handles if k.startswith(kind + ".")]:
                    handles.pop(old).close()
                handle = handles[key] = (out / f"{key}.ndjson").open("wb")
            for parts in lines:
                data = suffix.join(parts) + b"\n"
                size += len(data)
                handle.write(data)
    for handle in handles.values():
        handle.close()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / ".data" / "10k")
    parser.add_argument("--per-file", type=int, default=5000, help="patients per NDJSON file")
    parser.add_argument("--max-per-type", type=int, default=150)
    args = parser.parse_args()
    start = time.perf_counter()
    size = make_export(args.out, args.patients, per_file=args.per_file,
                       max_per_type=args.max_per_type)  # fmt: skip
    print(f"{args.patients} patients, {size / 1e6:.0f} MB in {args.out} "
          f"({time.perf_counter() - start:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
