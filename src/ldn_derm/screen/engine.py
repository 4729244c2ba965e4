"""Stage C and the run: every patient of a partition through the same core as `ldn assess`.

For each patient the resources routed to it (plus the Medications they reference) go, in
export order, to `ldn_derm.patient.profile_from_resources` and `ldn_derm.assess.assess` — the
functions `ldn assess` uses on a Bundle — and every core finding becomes a worklist row. The
screening-only reasons (`reasons.py`) are added after them.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from ldn_derm.errors import LdnError
from ldn_derm.screen.partition import (
    MAX_PROBLEMS,
    Problem,
    medication_key,
    open_scratch,
    patient_key,
    top_level_patient,
)
from ldn_derm.screen.reasons import Options, naltrexone_products, problem_finding

Row = dict[str, Any]
ProgressFn = Callable[[str, int, int], None]


@dataclass
class PartitionStats:
    patients: int = 0
    rows: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    candidacy: Counter[str] = field(default_factory=Counter)
    orphan_resources: int = 0  # resources whose Patient is not in the export
    orphan_patients: int = 0  # distinct missing Patient ids
    orphan_examples: list[str] = field(default_factory=list)
    unreadable: int = 0  # patients the core refused (listed with screen-record-unreadable)
    internal_errors: int = 0
    malformed: int = 0
    problems: list[Problem] = field(default_factory=list)

    def merge(self, other: PartitionStats) -> None:
        self.patients += other.patients
        self.rows += other.rows
        self.codes.update(other.codes)
        self.candidacy.update(other.candidacy)
        self.orphan_resources += other.orphan_resources
        self.orphan_patients += other.orphan_patients
        self.orphan_examples.extend(other.orphan_examples[: max(0, 20 - len(self.orphan_examples))])
        self.unreadable += other.unreadable
        self.internal_errors += other.internal_errors
        self.malformed += other.malformed
        room = MAX_PROBLEMS - len(self.problems)
        self.problems.extend(other.problems[: max(room, 0)])


def _origin(text: bytes) -> tuple[int, int]:
    file_index, line = text.split(b":", 1)
    return int(file_index), int(line)


Origin = bytes  # b"file-index:line", zero-padded (see partition.py): sorts in export order
Records = dict[bytes, list[tuple[Origin, bytes, bytes]]]


def _read_partition(scratch: str, part: int) -> tuple[Records, dict[str, tuple[Origin, bytes]]]:
    """The partition's rows grouped per patient key (bytes), each patient's rows in export
    order (the split tasks' shard files are read in file order, each written in line order),
    and the Medications joined to it."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(scratch)
    folder = f"{root}/parts/p{part:04d}"
    patients: Records = {}
    medications: dict[str, tuple[Origin, bytes]] = {}
    if not fs.exists(folder):
        return patients, medications
    for path in sorted(fs.glob(f"{folder}/*.tsv")):
        with open_scratch(fs, path, "rb") as handle:
            rows = handle.read().split(b"\n")
        rows.pop()  # after the last newline
        for row in rows:
            kind, key, origin, raw = row.split(b"\t", 3)
            if kind == b"M":
                medications[key.decode()] = (origin, raw)
            else:
                found = patients.get(key)
                if found is None:
                    patients[key] = [(origin, kind, raw)]
                else:
                    found.append((origin, kind, raw))
    return patients, medications


def screen_partition(
    part: int, scratch: str, as_of: date, file_names: list[str], options: Options
) -> PartitionStats:
    """Stage C for one partition: assess each patient, write its rows to rows/pNNNN.jsonl."""
    import gc

    import fsspec

    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    stats = PartitionStats()
    # Parsing allocates many short-lived containers: the collector's youngest generation runs
    # less often meanwhile (restored after); the knowledge base is not scanned (gc.freeze in
    # screen_export).
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), threshold[1], threshold[2])
    try:
        patients, medications = _read_partition(scratch, part)
        parsed_meds: dict[str, tuple[Origin, Any]] = {}
        for ident, (origin, raw) in medications.items():
            try:
                parsed_meds[ident] = (origin, orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue  # stage A parsed it once already; it cannot fail here
        fs, root = fsspec.core.url_to_fs(scratch)
        fs.makedirs(f"{root}/rows", exist_ok=True)
        with fs.open(f"{root}/rows/p{part:04d}.jsonl", "wb") as out:
            for key in sorted(patients):  # bytes sort as their UTF-8 text: in patient id order
                rows = _screen_patient(
                    key.decode(), patients[key], parsed_meds, as_of, file_names, options, kb, stats
                )
                if rows:
                    out.write(b"".join([orjson.dumps(row) + b"\n" for row in rows]))
                stats.rows += len(rows)
    finally:
        gc.set_threshold(*threshold)
    return stats


def _screen_patient(
    key: str,
    records: list[tuple[Origin, bytes, bytes]],
    medications: dict[str, tuple[Origin, Any]],
    as_of: date,
    file_names: list[str],
    options: Options,
    kb: Any,
    stats: PartitionStats,
) -> list[Row]:
    from ldn_derm.assess import assess
    from ldn_derm.assess.indications import supported
    from ldn_derm.patient import profile_from_resources
    from ldn_derm.screen.reasons import screening_findings

    records.sort()  # already in export order (see _read_partition): one cheap pass
    resources: list[tuple[Origin, Any]] = []
    encounters: list[bytes] = []
    bad: list[str] = []
    has_patient = joined = False
    expected = f"Patient/{key}"
    plain = patient_key(expected) == key  # then the reference 'Patient/<key>' names this patient
    for origin, kind, raw in records:
        if kind == b"E":
            encounters.append(raw)
            continue
        try:
            resource = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            bad.append(_problem(stats, file_names, origin, f"not valid JSON ({exc})"))
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            bad.append(_problem(stats, file_names, origin, "not a FHIR resource (no resourceType)"))
            continue
        subject = resource.get("subject")
        if (
            not (  # the usual case, without top_level_patient: a plain subject reference
                plain
                and kind == b"R"
                and type(subject) is dict
                and subject.get("reference") == expected
                and resource["resourceType"] != "Patient"
            )
            and top_level_patient(resource) != key
        ):  # the quick scan was misled: never guess
            message = "names its patient only inside a nested element; left out"
            bad.append(_problem(stats, file_names, origin, message))
            continue
        has_patient = has_patient or kind == b"P"
        resources.append((origin, resource))
        reference = resource.get("medicationReference")
        if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
            med = medication_key(reference["reference"])
            if med is not None and med in medications:
                resources.append(medications[med])
                joined = True
    if not has_patient:
        stats.orphan_patients += 1
        stats.orphan_resources += len(records)
        if len(stats.orphan_examples) < 20:
            stats.orphan_examples.append(key)
        return []

    stats.patients += 1
    if joined:  # a Medication shared by several orders once, everything in export order
        unique = {id(r): (o, r) for o, r in resources}
        ordered = [r for _, r in sorted(unique.values(), key=_first)]
    else:
        ordered = [r for _, r in resources]
    try:
        profile = profile_from_resources(ordered, as_of=as_of, kb=kb, source="fhir-bulk")
        assessment = assess(profile, kb, comparators=False)
        cohort = []
        if any(supported(i) for i in assessment.indications):
            full = assess(profile, kb, comparators=True)
            cohort = [flag for c in full.comparators for flag in c.flags]
        dates = _encounter_dates(encounters) if naltrexone_products(profile) else []
        findings = [
            *assessment.findings,
            *screening_findings(
                profile, assessment, kb, encounter_dates=dates, options=options, cohort_flags=cohort
            ),
        ]
        stats.candidacy[assessment.candidacy.value] += 1
    except LdnError as exc:
        stats.unreadable += 1
        stats.candidacy["not-screened"] += 1
        findings = [problem_finding("screen-record-unreadable", [f"Patient/{key}"], problem=exc)]
    except Exception as exc:  # a bug in a rule: fail closed for this patient, keep going
        stats.internal_errors += 1
        stats.candidacy["not-screened"] += 1
        problem = f"internal error ({type(exc).__name__}); please report it"
        findings = [
            problem_finding("screen-record-unreadable", [f"Patient/{key}"], problem=problem)
        ]
    if bad:
        findings.append(problem_finding("screen-record-incomplete", bad, lines=len(bad)))
    rows = [
        {
            "patient": key,
            "code": f.code,
            "severity": f.severity.value,
            "summary": f.summary,
            "triggered_by": list(f.triggered_by),
            "references": list(f.references),
        }
        for f in findings
    ]
    stats.codes.update(str(r["code"]) for r in rows)
    return rows


def _problem(stats: PartitionStats, file_names: list[str], origin: Origin, message: str) -> str:
    """Count and list (the first MAX_PROBLEMS) a problem line; returns its 'file:line'."""
    file_index, line = _origin(origin)
    stats.malformed += 1
    if len(stats.problems) < MAX_PROBLEMS:
        stats.problems.append(Problem(file_names[file_index], line, message[:200]))
    return f"{file_names[file_index]}:{line}"


def _first(item: tuple[Origin, Any]) -> Origin:
    return item[0]


def _encounter_dates(raws: list[bytes]) -> list[date]:
    """The start (or end) day of each Encounter; unreadable ones are skipped."""
    from ldn_derm.patient.dates import parse_fhir_date

    dates: list[date] = []
    for raw in raws:
        try:
            resource = orjson.loads(raw)
            period = resource.get("period") if isinstance(resource, dict) else None
            if not isinstance(period, dict):
                continue
            value = period.get("end") or period.get("start")
            if value is not None:
                dates.append(parse_fhir_date(value, "Encounter period"))
        except (orjson.JSONDecodeError, LdnError):
            continue
    return dates


MERGE_FAN_IN = 256  # row files merged at once (open files)


def _sorted_rows(fs: Any, paths: list[str]) -> Iterator[Row]:
    import heapq

    with contextlib.ExitStack() as stack:
        streams = [
            (orjson.loads(line) for line in stack.enter_context(open_scratch(fs, path, "rb")))
            for path in paths
        ]
        # heapq.merge is stable: the rows of one patient stay together and in order
        yield from heapq.merge(*streams, key=lambda row: str(row["patient"]))


def iter_rows(scratch: str, partitions: int) -> Iterator[Row]:
    """Every row written by stage C, ordered by patient id whatever the partitioning: a merge
    of the partitions' sorted row files, in levels of MERGE_FAN_IN files (bounded memory and
    open files)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(scratch)
    paths = [f"{root}/rows/p{part:04d}.jsonl" for part in range(partitions)]
    paths = [p for p in paths if fs.exists(p)]
    level = 0
    while len(paths) > MERGE_FAN_IN:
        merged = []
        for start in range(0, len(paths), MERGE_FAN_IN):
            target = f"{root}/rows/m{level}-{start // MERGE_FAN_IN:05d}.jsonl"
            with open_scratch(fs, target, "wb") as out:
                for row in _sorted_rows(fs, paths[start : start + MERGE_FAN_IN]):
                    out.write(orjson.dumps(row) + b"\n")
            merged.append(target)
        paths, level = merged, level + 1
    yield from _sorted_rows(fs, paths)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
