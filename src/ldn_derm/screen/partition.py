"""Stream and partition: the export is split by patient into K partition files on disk.

Stage A (`split_file`, one task per export file): each line is routed, without being kept, to
the partition of its patient (crc32 of the Patient id, modulo K). Routing reads the top-level
``subject``/``patient`` reference; a line is parsed in full only when a quick byte scan cannot
be sure (Patient and Medication lines, lines with contained resources, several candidate
references). Lines the scan routes are parsed later, once, in stage C.

Stage B (`join_medications`, one task per medication bucket): Medication resources have no
patient; they are hashed by id into buckets together with the (Medication id, partition) pairs
that stage A saw in medicationReference, and each one is copied into the partitions that need it.

Observations: most lines of a real export are vital signs and panels that no rule reads. The core
uses an Observation only when one of its codes is a lab code of the knowledge base
(terminology.yaml `labs`, matched by code alone, stripped), so an ASCII line without escapes
that holds none of those codes as a JSON string value cannot matter to any finding: stage A
counts it and leaves it out. Every other Observation goes to the core as usual.

Memory: a task holds one line at a time (A), one bucket of Medications (B), or one partition (C).
Scratch files live under a private folder (owner-only) and are removed by the caller.

Shard line format (tab-separated, JSON last so it may hold anything):
``P|R|E<TAB>patient-key<TAB>file-index:line<TAB>json`` in partitions,
``M<TAB>medication-id<TAB>file-index:line<TAB>json`` in partitions (joined Medications),
``D<TAB>medication-id<TAB>file-index:line<TAB>json`` and ``N<TAB>medication-id<TAB>partition``
in medication buckets.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from ldn_derm.patient.fhir import USED_TYPES
from ldn_derm.screen.source import ExportFile, read_lines

# Resource types read: those the core uses, plus Encounter (dates only, for follow-up).
READ_TYPES = frozenset(USED_TYPES | {"Encounter"})
MAX_PROBLEMS = 200  # problem lines listed by (file, line); all are counted

_REF_FIELD = rb'"(?:subject|patient)"\s*:\s*\{[^{}]*?"reference"\s*:\s*"([^"\\]*)"'
_SUBJECT = re.compile(_REF_FIELD)
_MED_REF = re.compile(rb'"medicationReference"\s*:\s*\{[^{}]*?"reference"\s*:\s*"([^"\\]*)"')
_PLAIN_ID = re.compile(r"[A-Za-z0-9\-.]+")
_COMPACT_SUBJECT = b'"subject":{"reference":"'
_TYPED_REF = re.compile(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")


def partition_of(key: str, partitions: int) -> int:
    """Stable across processes and machines (Python's hash() is salted per process)."""
    return zlib.crc32(key.encode()) % partitions


def patient_key(reference: str) -> str | None:
    """The Patient id a subject/patient reference names ('Patient/x', a URL, 'urn:uuid:x')."""
    if reference.startswith("Patient/"):  # the usual form, without the regular expression
        ident = reference[8:]
        if 0 < len(ident) <= 64 and _PLAIN_ID.fullmatch(ident):
            return ident
    ref = reference.strip()
    if ref.startswith("urn:uuid:"):
        return ref[9:] or None
    match = _TYPED_REF.search(ref)
    if match and match[1] == "Patient":
        return match[2]
    return None


def medication_key(reference: str) -> str | None:
    """The Medication id a medicationReference names, as the core resolves it ('Medication/x')."""
    match = _TYPED_REF.search(reference.strip())
    if match and match[1] == "Medication":
        return match[2]
    return None


def top_level_patient(resource: dict[str, Any]) -> str | None:
    """The Patient id of a parsed resource (itself for a Patient), or None."""
    if resource.get("resourceType") == "Patient":
        ident = resource.get("id")
        return ident if isinstance(ident, str) and ident else None
    for name in ("subject", "patient"):
        target = resource.get(name)
        if isinstance(target, dict):
            reference = target.get("reference")
            return patient_key(reference) if isinstance(reference, str) else None
    return None


@dataclass
class Problem:
    file: str
    line: int
    message: str


@dataclass
class SplitStats:
    """What stage A saw in one file (merged across files by the caller)."""

    lines: int = 0
    bytes: int = 0
    malformed: int = 0
    unlinked: int = 0  # resources with no patient reference (other than Medication)
    not_used: int = 0  # lines no rule reads (other types inside a read file, non-lab Observations)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, file: str, line: int, message: str) -> None:
        self.malformed += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(file, line, message[:200]))

    def merge(self, other: SplitStats) -> None:
        self.lines += other.lines
        self.bytes += other.bytes
        self.malformed += other.malformed
        self.unlinked += other.unlinked
        self.not_used += other.not_used
        room = MAX_PROBLEMS - len(self.problems)
        self.problems.extend(other.problems[: max(room, 0)])


def open_scratch(fs: Any, path: str, mode: str) -> IO[bytes]:
    """A scratch file: the standard library's buffered file when local (faster line by line)."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return open(path, mode, buffering=1024 * 1024)
    return fs.open(path, mode)  # type: ignore[no-any-return]


def _compact_subject(line: bytes) -> list[bytes]:
    """The subject reference of a compactly written line (what exports write), found with
    plain byte searches; [] when the line is not that simple (the regular expression decides)."""
    start = line.find(_COMPACT_SUBJECT)
    if start < 0 or b'"patient"' in line or line.find(b'"subject"', start + 10) >= 0:
        return []
    start += len(_COMPACT_SUBJECT)
    end = line.find(b'"', start)
    value = line[start:end]
    return [value] if end > start and b"\\" not in value else []


class _Shards:
    """Lazily opened output files, one per destination, under a scratch URL."""

    def __init__(self, scratch: str, task: int) -> None:
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(scratch)
        self.task = task
        self.handles: dict[str, IO[bytes]] = {}
        self.buffers: dict[str, list[bytes]] = {}
        self.buffered = 0
        self.created: set[str] = set()

    def write(self, folder: str, data: bytes) -> None:
        buffer = self.buffers.get(folder)
        if buffer is None:
            buffer = self.buffers[folder] = []
        buffer.append(data)
        self.buffered += len(data)
        if self.buffered > 16 * 1024 * 1024:  # bounded: flush every destination
            self.flush()

    def flush(self) -> None:
        """Write every buffer out. Local files are opened for append and closed again, so a
        task never holds one open file per partition; other filesystems keep a handle."""
        local = (
            self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        ) in (
            "file",
            "local",
        )
        for folder, buffer in self.buffers.items():
            if not buffer:
                continue
            path = f"{self.root}/{folder}/a{self.task:05d}.tsv"
            if folder not in self.created:
                self.fs.makedirs(f"{self.root}/{folder}", exist_ok=True)
                self.created.add(folder)
            if local:
                with open(path, "ab") as appended:
                    appended.write(b"".join(buffer))
            else:
                handle = self.handles.get(folder)
                if handle is None:
                    handle = self.handles[folder] = self.fs.open(path, "wb")
                handle.write(b"".join(buffer))
            buffer.clear()
        self.buffered = 0

    def close(self) -> None:
        self.flush()
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


def lab_code_pattern(codes: Iterable[str]) -> frozenset[bytes]:
    """The knowledge base's lab codes, as bytes, for the Observation filter of `split_file`;
    empty (no filtering) if a code has a character the filter does not look for."""
    found = frozenset(c.strip().encode() for c in codes if c.strip())
    if not all(_CODE_CHARS.fullmatch(code) for code in found):
        return frozenset()
    return found


# A JSON string value that could be a lab code once stripped ("1742-6", " 1742-6 "): the core
# matches labs by code alone (`Matcher.lab_for`), with the value stripped.
_CODE_CHARS = re.compile(rb"[0-9A-Za-z][0-9A-Za-z.\-]{0,30}")
_QUOTED_CODE = re.compile(rb'"\s*(' + _CODE_CHARS.pattern + rb')\s*"')


def _may_be_lab(line: bytes, labs: frozenset[bytes]) -> bool:
    if b"\\" in line or not line.isascii():  # an escape or odd space could hide a code
        return True
    return any(m[1] in labs for m in _QUOTED_CODE.finditer(line))


def split_file(
    file: ExportFile,
    task: int,
    scratch: str,
    partitions: int,
    buckets: int,
    lab_codes: frozenset[bytes] = frozenset(),
) -> SplitStats:
    """Stage A for one export file. Returns what it saw; never raises for a bad line.

    `lab_codes` (from `lab_code_pattern`): when given, Observation lines without any of them
    are counted in `not_used` and left out (see the module docstring).
    """
    stats = SplitStats()
    labs = lab_codes if lab_codes and file.resource_type == "Observation" else None
    shards = _Shards(scratch, task)
    expected = file.resource_type
    quick = expected not in ("Patient", "Medication")
    try:
        for number, line in read_lines(file):
            stats.lines += 1
            stats.bytes += len(line) + 1
            origin = b"%d:%d" % (file.index, number)
            key: str | None = None
            kind = b"E" if expected == "Encounter" else b"R"
            med_refs: list[str] = []
            routed = False
            if labs is not None and not _may_be_lab(line, labs):
                stats.not_used += 1
                continue
            if quick and b'"contained"' not in line:
                found = _compact_subject(line) or _SUBJECT.findall(line)
                if len(found) == 1:
                    key = patient_key(found[0].decode("utf-8", "replace"))
                    if key is not None:
                        routed = True
                        if b'"medicationReference"' in line:
                            med_refs = [m.decode() for m in _MED_REF.findall(line)]
            if not routed:
                try:
                    resource = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    stats.problem(file.name, number, f"not valid JSON ({exc})")
                    continue
                kind_name = resource.get("resourceType") if isinstance(resource, dict) else None
                if not isinstance(kind_name, str) or not kind_name:
                    stats.problem(file.name, number, "not a FHIR resource (no resourceType)")
                    continue
                if kind_name not in READ_TYPES:
                    stats.not_used += 1
                    continue
                if kind_name == "Medication":
                    ident = resource.get("id")
                    if not isinstance(ident, str) or not ident:
                        stats.problem(file.name, number, "Medication without an id")
                        continue
                    bucket = partition_of(ident, buckets)
                    shards.write(
                        f"meds/b{bucket:04d}", b"D\t%s\t%s\t%s\n" % (ident.encode(), origin, line)
                    )
                    continue
                key = top_level_patient(resource)
                if key is None:
                    if kind_name == "Patient":
                        stats.problem(file.name, number, "Patient without an id")
                    else:
                        stats.unlinked += 1
                    continue
                kind = (
                    b"P" if kind_name == "Patient" else b"E" if kind_name == "Encounter" else b"R"
                )
                target = resource.get("medicationReference")
                if isinstance(target, dict) and isinstance(target.get("reference"), str):
                    med_refs = [target["reference"]]
            if key is None:  # unreachable: both paths above set it or skip the line
                continue
            part = partition_of(key, partitions)
            shards.write(
                f"parts/p{part:04d}", b"%s\t%s\t%s\t%s\n" % (kind, key.encode(), origin, line)
            )
            for reference in med_refs:
                med = medication_key(reference)
                if med is not None:
                    bucket = partition_of(med, buckets)
                    shards.write(f"meds/b{bucket:04d}", b"N\t%s\t%d\n" % (med.encode(), part))
    finally:
        shards.close()
    return stats


def join_medications(bucket: int, scratch: str) -> int:
    """Stage B for one medication bucket: copy each needed Medication into its partitions.

    Returns how many referenced Medications are not in the export (left unresolved, as a
    Bundle without them would be: the core then marks those medicines unchecked).
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(scratch)
    folder = f"{root}/meds/b{bucket:04d}"
    if not fs.exists(folder):
        return 0
    medications: dict[bytes, tuple[bytes, bytes]] = {}
    needs: set[tuple[bytes, int]] = set()
    for path in sorted(fs.glob(f"{folder}/*.tsv")):
        with open_scratch(fs, path, "rb") as handle:
            for row in handle:
                if row.startswith(b"D\t"):
                    _, ident, origin, raw = row.rstrip(b"\n").split(b"\t", 3)
                    medications[ident] = (origin, raw)
                else:
                    _, ident, target = row.rstrip(b"\n").split(b"\t", 2)
                    needs.add((ident, int(target)))
    missing = 0
    by_part: dict[int, list[bytes]] = {}
    for ident, part in sorted(needs):
        found = medications.get(ident)
        if found is None:
            missing += 1
            continue
        by_part.setdefault(part, []).append(b"M\t%s\t%s\t%s\n" % (ident, found[0], found[1]))
    for part, rows in by_part.items():
        fs.makedirs(f"{root}/parts/p{part:04d}", exist_ok=True)
        with fs.open(f"{root}/parts/p{part:04d}/m{bucket:04d}.tsv", "wb") as handle:
            handle.writelines(rows)
    return missing
