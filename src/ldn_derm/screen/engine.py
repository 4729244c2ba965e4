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
    deferred: list[str] = field(default_factory=list)  # patients waiting for Encounter dates

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
        self.deferred.extend(other.deferred)


def _origin(text: bytes) -> tuple[int, int]:
    file_index, line = text.split(b":", 1)
    return int(file_index), int(line)


Origin = bytes  # b"file-index:line", zero-padded (see partition.py): sorts in export order
Records = dict[bytes, list[tuple[Origin, bytes, bytes]]]


def _read_rows(fs: Any, paths: list[str]) -> tuple[Records, dict[str, tuple[Origin, bytes]]]:
    """Shard rows grouped per patient key (bytes), each patient's rows in the order read (in
    export order when the paths are in name order: each split task writes one file per
    destination, in line order, and tasks are numbered in export-file order), and the
    Medication rows by id."""
    patients: Records = {}
    medications: dict[str, tuple[Origin, bytes]] = {}
    for path in paths:
        with open_scratch(fs, path, "rb") as handle:
            for row in handle:  # (line by line: the partition is held once, as rows)
                kind, key, origin, raw = row[:-1].split(b"\t", 3)
                if kind == b"M":
                    medications[key.decode()] = (origin, raw)
                else:
                    found = patients.get(key)
                    if found is None:
                        patients[key] = [(origin, kind, raw)]
                    else:
                        found.append((origin, kind, raw))
    return patients, medications


def _shards(fs: Any, folder: str, pattern: str = "*.tsv") -> list[str]:
    """A folder's shard files in name order (split tasks in export-file order): [] if none."""
    return sorted(fs.glob(f"{folder}/{pattern}")) if fs.exists(folder) else []


def _parse_medications(
    medications: dict[str, tuple[Origin, bytes]],
) -> dict[str, tuple[Origin, Any]]:
    parsed: dict[str, tuple[Origin, Any]] = {}
    for ident, (origin, raw) in medications.items():
        try:
            parsed[ident] = (origin, orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue  # stage A parsed it once already; it cannot fail here
    return parsed


def screen_partition(
    part: int,
    scratch: str,
    as_of: date,
    file_names: list[str],
    options: Options,
    defer: bool = False,
) -> PartitionStats:
    """Stage C for one partition: assess each patient, write its rows to rows/pNNNN.jsonl.

    With `defer` (stage A left the Encounter files to the encounter scan), a patient with a
    current naltrexone product, which needs its Encounter dates (follow-up), is set aside: its
    shard rows are written to deferred/pNNNN.tsv and its key returned in `deferred`;
    `finish_partition` assesses it once the Encounter files have been scanned for those
    patients (nothing of it is counted here)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(scratch)
    patients, medications = _read_rows(fs, _shards(fs, f"{root}/parts/p{part:04d}"))
    return _screen_patients(
        fs, f"{root}/rows/p{part:04d}.jsonl", patients, medications, as_of, file_names, options,
        defer_to=f"{root}/deferred/p{part:04d}.tsv" if defer else None,
    )  # fmt: skip


def finish_partition(
    part: int, scratch: str, as_of: date, file_names: list[str], options: Options
) -> PartitionStats:
    """Stage C for the patients `screen_partition` set aside, with their Encounters (routed by
    the encounter scan to enc/pNNNN): rows to rows/dNNNN.jsonl."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(scratch)
    deferred = f"{root}/deferred/p{part:04d}.tsv"
    if not fs.exists(deferred):
        return PartitionStats()
    patients, _ = _read_rows(fs, [deferred])
    _, medications = _read_rows(fs, _shards(fs, f"{root}/parts/p{part:04d}", "m*.tsv"))
    encounters, _ = _read_rows(fs, _shards(fs, f"{root}/enc/p{part:04d}"))
    for key, records in patients.items():
        records.extend(encounters.get(key, ()))
    return _screen_patients(
        fs, f"{root}/rows/d{part:04d}.jsonl", patients, medications, as_of, file_names, options,
        defer_to=None,
    )  # fmt: skip


def _screen_patients(
    fs: Any,
    out_path: str,
    patients: Records,
    medications: dict[str, tuple[Origin, bytes]],
    as_of: date,
    file_names: list[str],
    options: Options,
    defer_to: str | None,
) -> PartitionStats:
    import gc

    from ldn_derm.knowledge import get_knowledge

    kb = get_knowledge()
    stats = PartitionStats()
    # Parsing allocates many short-lived containers: the collector's youngest generation runs
    # less often meanwhile (restored after).
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), threshold[1], threshold[2])
    try:
        parsed_meds = _parse_medications(medications)
        set_aside: list[bytes] = []
        fs.makedirs(out_path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(out_path, "wb") as out:
            for key in sorted(patients):  # bytes sort as their UTF-8 text: in patient id order
                records = patients[key]
                mine = PartitionStats()
                rows = _screen_patient(
                    key.decode(), records, parsed_meds, as_of, file_names, options, kb, mine,
                    defer=defer_to is not None,
                )  # fmt: skip
                if rows is None:  # needs its Encounter dates: set aside, counted later
                    stats.deferred.append(key.decode())
                    set_aside += [b"%s\t%s\t%s\t%s\n" % (k, key, o, r) for o, k, r in records]
                    continue
                stats.merge(mine)
                if rows:
                    out.write(b"".join([orjson.dumps(row) + b"\n" for row in rows]))
                stats.rows += len(rows)
        if set_aside and defer_to is not None:
            fs.makedirs(defer_to.rsplit("/", 1)[0], exist_ok=True)
            with fs.open(defer_to, "wb") as kept:
                kept.write(b"".join(set_aside))
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
    *,
    defer: bool = False,
) -> list[Row] | None:
    """One patient's worklist rows (stats counted in `stats`); None, with nothing done, when
    `defer` and the patient has a current naltrexone product (it needs its Encounters)."""
    from ldn_derm.assess import assess
    from ldn_derm.assess.indications import supported
    from ldn_derm.patient import profile_from_resources
    from ldn_derm.screen.reasons import screening_findings

    records.sort()  # already in export order (see _read_rows): one cheap pass
    resources: list[tuple[Origin, Any]] = []
    encounters: list[tuple[Origin, bytes]] = []
    bad: list[str] = []
    has_patient = joined = False
    expected = f"Patient/{key}"
    plain = patient_key(expected) == key  # then the reference 'Patient/<key>' names this patient
    for origin, kind, raw in records:
        if kind == b"E":
            encounters.append((origin, raw))
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
        if defer and naltrexone_products(profile):
            return None
        assessment = assess(profile, kb, comparators=False)
        cohort = []
        if any(supported(i) for i in assessment.indications):
            full = assess(profile, kb, comparators=True)
            cohort = [flag for c in full.comparators for flag in c.flags]
        dates: list[date] = []
        if naltrexone_products(profile):
            dates, unread = _encounter_dates(encounters, key)
            bad += [_problem(stats, file_names, origin, message) for origin, message in unread]
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


def _encounter_dates(
    records: list[tuple[Origin, bytes]], key: str
) -> tuple[list[date], list[tuple[Origin, str]]]:
    """The start (or end) day of each of patient `key`'s Encounters, and the Encounter lines
    that could not be read (origin, why): not JSON, or a period date that is not a date. Those
    are reported (the follow-up check may be missing a visit); any line the quick scan routed
    here whose top-level reference names another patient is skipped (a visit of someone else
    must never count as this patient's follow-up)."""
    from ldn_derm.patient.dates import parse_fhir_date

    dates: list[date] = []
    unread: list[tuple[Origin, str]] = []
    for origin, raw in records:
        try:
            resource = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            unread.append((origin, f"not valid JSON ({exc})"))
            continue
        if not isinstance(resource, dict) or top_level_patient(resource) != key:
            continue
        period = resource.get("period")
        if not isinstance(period, dict):
            continue
        value = period.get("end") or period.get("start")
        if value is None:
            continue
        try:
            dates.append(parse_fhir_date(value, "Encounter period"))
        except LdnError as exc:
            unread.append((origin, f"Encounter date unreadable ({exc})"))
    return dates, unread


MERGE_FAN_IN = 256  # row files merged at once (open files)
MERGE_BUFFER = 16 * 1024  # read buffer per merged file: 4 MB for MERGE_FAN_IN files


def _sorted_rows(fs: Any, paths: list[str]) -> Iterator[Row]:
    import heapq

    with contextlib.ExitStack() as stack:
        streams = [
            (
                orjson.loads(line)
                for line in stack.enter_context(open_scratch(fs, path, "rb", MERGE_BUFFER))
            )
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
    paths = [f"{root}/rows/{kind}{part:04d}.jsonl" for part in range(partitions) for kind in "pd"]
    paths = [p for p in paths if fs.exists(p)]  # d: patients finished after the Encounters
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
