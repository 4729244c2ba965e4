"""Stream and partition: the export is split by patient into K partition files on disk.

Stage A (`split_file`, one task per export file): each line is routed, without being kept, to
the partition of its patient (crc32 of the Patient id, modulo K). Files are read in blocks of
whole lines. Routing reads the top-level ``subject``/``patient`` reference; a line is parsed in
full only when a quick byte scan cannot be sure (Patient and Medication lines, lines with
contained resources, several candidate references). Lines the scan routes are parsed later,
once, in stage C. Encounter lines can be left to the encounter scan (``encounters="skip"``,
then ``"only"`` after stage C: see `split_file`).

Stage B (`join_medications`, one task per medication bucket): Medication resources have no
patient; they are hashed by id into buckets together with the (Medication id, partition) pairs
that stage A saw in medicationReference, and each one is copied into the partitions that need it.

Observations: most lines of a real export are vital signs and panels that no rule reads. The core
uses an Observation only when one of its `code` codes is a lab code of the knowledge base
(terminology.yaml `labs`, matched by code alone, stripped), so a line that is plainly an
Observation and holds none of those codes as the value of a ``"code"`` key cannot matter to any
finding: stage A counts it and leaves it out (`_lab_regex`, `_may_be_lab`). Every other line
goes on as usual.

Memory: a task holds one block and 16 MB of buffered rows (A), one bucket of Medications (B),
or one partition (C).
Scratch files live under a private folder (owner-only) and are removed by the caller.

Shard line format (tab-separated, JSON last so it may hold anything; the origin
``file-index:line`` is written zero-padded, ``000003:0000001234``, so that origins sort as bytes):
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
from functools import lru_cache
from typing import IO, Any

import orjson

from ldn_derm.patient.fhir import USED_TYPES
from ldn_derm.screen.source import ExportFile, is_local, read_blocks

# Resource types read: those the core uses, plus Encounter (dates only, for follow-up).
READ_TYPES = frozenset(USED_TYPES | {"Encounter"})
MAX_PROBLEMS = 200  # problem lines listed by (file, line); all are counted

_REF_FIELD = rb'"(?:subject|patient)"\s*:\s*\{[^{}]*?"reference"\s*:\s*"([^"\\]*)"'
_SUBJECT = re.compile(_REF_FIELD)
_MED_REF = re.compile(rb'"medicationReference"\s*:\s*\{[^{}]*?"reference"\s*:\s*"([^"\\]*)"')
_PLAIN_ID = re.compile(r"[A-Za-z0-9\-.]+")
_COMPACT_SUBJECT = b'"subject":{"reference":"'
_ANY_SUBJECT = re.compile(rb'"subject"(?::\{"reference":"([^"\\]*)")?')
_COMPACT_SUBJECT_LINE = re.compile(rb'"subject":\{"reference":"([^"\\]*)"[^\n]*')
_TYPED_REF = re.compile(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")


def partition_of(key: str, partitions: int) -> int:
    """Stable across processes and machines (Python's hash() is salted per process)."""
    return zlib.crc32(key.encode()) % partitions


def usable_key(ident: str) -> str | None:
    """`ident` as a key of the scratch files, or None: empty, longer than 256 characters, or
    holding a control character (a tab or a line break would break a shard row). None of these
    is a FHIR id; the caller reports the line instead of screening it."""
    if not ident or len(ident) > 256 or any(ch < " " for ch in ident):
        return None
    return ident


def patient_key(reference: str) -> str | None:
    """The Patient id a subject/patient reference names ('Patient/x', a URL, 'urn:uuid:x'),
    as the core matches it (`patient.fhir`): a relative 'Patient/<id>' names that id whatever
    characters it holds."""
    if reference.startswith("Patient/"):  # the usual form, without the regular expression
        ident = reference[8:]
        if 0 < len(ident) <= 64 and _PLAIN_ID.fullmatch(ident):
            return ident
    ref = reference.strip()
    if ref.startswith("urn:uuid:"):
        return usable_key(ref[9:])
    return _typed_key(ref, "Patient")


def medication_key(reference: str) -> str | None:
    """The Medication id a medicationReference names, as the core resolves it ('Medication/x',
    a URL ending in it, or 'Medication/' and any id the record gives itself)."""
    return _typed_key(reference.strip(), "Medication")


def _typed_key(ref: str, kind: str) -> str | None:
    """The id of a `kind` a stripped reference names, as the core matches it: the last
    'Type/id' of the reference (an id of FHIR's characters, with any '/_history/..' after it),
    or else, for 'Kind/<rest>', the rest, which a record may use as its own id whatever its
    characters (the core compares 'Kind/' + id as text)."""
    match = _TYPED_REF.search(ref)
    if match and match[1] == kind:
        return match[2]
    prefix = kind + "/"
    if ref.startswith(prefix):
        return usable_key(ref[len(prefix) :])
    return None


def top_level_patient(resource: dict[str, Any]) -> str | None:
    """The Patient id of a parsed resource (itself for a Patient), or None."""
    if resource.get("resourceType") == "Patient":
        ident = resource.get("id")
        return usable_key(ident) if isinstance(ident, str) else None
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
    bytes: int = 0  # of the non-blank lines, as read, each with its newline
    malformed: int = 0
    unlinked: int = 0  # resources with no patient reference (other than Medication)
    not_used: int = 0  # lines no rule reads (other types inside a read file, non-lab Observations)
    deferred: int = 0  # Encounter lines left to the encounter scan
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
        self.deferred += other.deferred
        room = MAX_PROBLEMS - len(self.problems)
        self.problems.extend(other.problems[: max(room, 0)])


def open_scratch(fs: Any, path: str, mode: str, buffer: int = 1024 * 1024) -> IO[bytes]:
    """A scratch file: the standard library's buffered file when local (faster line by line),
    with a `buffer` of that many bytes (a caller holding many files open at once asks for a
    smaller one: its memory is the number of files times the buffer)."""
    if is_local(fs):
        return open(path, mode, buffering=buffer)
    return fs.open(path, mode)  # type: ignore[no-any-return]


def _compact_subject(line: bytes) -> list[bytes]:
    """The subject reference of a compactly written line (what exports write), found with
    plain byte searches; [] when the line is not that simple (the regular expression decides)."""
    start = line.find(_COMPACT_SUBJECT)
    if start < 0 or b'"patient"' in line or line.count(b'"subject"') != 1:
        return []
    start += len(_COMPACT_SUBJECT)
    end = line.find(b'"', start)
    value = line[start:end]
    return [value] if end > start and b"\\" not in value else []


class _Shards:
    """Output files, one per destination, under a scratch URL, written in batches: each
    destination collects its rows in a byte buffer; all buffers are written out when together
    they pass 16 MB (bounded memory) and at the end."""

    LIMIT = 16 * 1024 * 1024

    def __init__(self, scratch: str, task: int) -> None:
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(scratch)
        self.task = task
        self.flushes = 0
        self.buffers: dict[str, bytearray] = {}
        self.buffered = 0
        self.created: set[str] = set()
        self.local = is_local(self.fs)

    def buffer(self, folder: str) -> bytearray:
        """The buffer of one destination (the caller appends to it and adds to `buffered`)."""
        found = self.buffers.get(folder)
        if found is None:
            found = self.buffers[folder] = bytearray()
        return found

    def write(self, folder: str, data: bytes) -> None:
        self.buffer(folder).extend(data)
        self.buffered += len(data)
        if self.buffered > self.LIMIT:
            self.flush()

    def flush(self) -> None:
        """Write every buffer out; no file stays open, so memory is the buffers alone whatever
        the number of destinations. Local files are appended to (`aTTTTT.tsv`); an object store
        cannot append, so there each flush is a new object (`aTTTTT-FFFFF.tsv`, names that sort
        in write order, as the readers take them). (Keeping one open handle per partition
        instead would hold each handle's upload buffer, several MB on an object store, per
        partition.)"""
        for folder, buffer in self.buffers.items():
            if not buffer:
                continue
            if folder not in self.created:
                self.fs.makedirs(f"{self.root}/{folder}", exist_ok=True)
                self.created.add(folder)
            if self.local:
                with open(f"{self.root}/{folder}/a{self.task:05d}.tsv", "ab") as appended:
                    appended.write(buffer)
            else:
                path = f"{self.root}/{folder}/a{self.task:05d}-{self.flushes:05d}.tsv"
                with self.fs.open(path, "wb") as handle:
                    handle.write(bytes(buffer))
            buffer.clear()
        self.buffered = 0
        self.flushes += 1

    def close(self) -> None:
        self.flush()


def lab_code_pattern(codes: Iterable[str]) -> frozenset[bytes]:
    """The knowledge base's lab codes, as bytes, for the Observation filter of `split_file`;
    empty (no filtering) if a code has a character the filter does not look for."""
    found = frozenset(c.strip().encode() for c in codes if c.strip())
    if not all(_CODE_CHARS.fullmatch(code) for code in found):
        return frozenset()
    return found


# The Observation filter. The core uses an Observation only if a code of its `code` element
# (`code.coding[].code`, stripped, cut to 64 characters, stripped again) is a lab code. In JSON
# text without escapes, such a code is written `"code"` `:` `"` code `"` with JSON whitespace
# around the colon, and inside the quotes the code may be padded with anything `str.strip`
# removes (ASCII spaces and separators, or non-ASCII spaces: bytes >= 0x80 in UTF-8), or be
# followed by at least 33 such bytes and then anything (the cut at 64 characters; codes have at
# most 31). `_lab_regex` looks for exactly that, over a superset of the padding: it can keep a
# line the core will not use, never drop one it would use. Lines with a backslash (an escape
# could spell the key or the code) are parsed and their codes read instead (`_parsed_may_be_lab`).
_CODE_CHARS = re.compile(rb"[0-9A-Za-z][0-9A-Za-z.\-]{0,30}")
_PAD = rb"[\s\x1c-\x1f\x80-\xff]"
_RESOURCE_TYPE = b'"resourceType"'
_OBSERVATION_TYPE = b'"resourceType":"Observation"'
_OBSERVATION_TYPES = re.compile(rb'"resourceType"\s*:\s*"Observation"')


@lru_cache(maxsize=8)
def _lab_regex(labs: frozenset[bytes]) -> re.Pattern[bytes]:
    codes = b"|".join(re.escape(code) for code in sorted(labs, key=lambda c: (-len(c), c)))
    return re.compile(
        rb'"code"\s*:\s*"' + _PAD + rb"*(?:" + codes + rb")(?:" + _PAD + rb'*"|' + _PAD + rb"{33,})"
    )


def _parsed_may_be_lab(line: bytes, labs: frozenset[bytes]) -> bool:
    """The filter for a line with an escape: parse it and read `code.coding[].code` as the core
    does; anything unexpected (not JSON, not an Observation, an odd shape) keeps the line."""
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError:
        return True  # kept: routed if possible, then reported as malformed
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        return True
    concept = resource.get("code")
    if concept is None:
        return False
    if not isinstance(concept, dict):
        return True
    codings = concept.get("coding")
    if codings is None:
        return False
    if not isinstance(codings, list):
        return True
    for coding in codings:
        if not isinstance(coding, dict):
            return True
        code = coding.get("code")
        if code is None:
            continue
        if not isinstance(code, str):
            return True
        if code.strip()[:64].strip().encode() in labs:
            return True
    return False


def _may_be_lab(line: bytes, labs: frozenset[bytes]) -> bool:
    """Whether the core could use this line of an Observation file (see `_lab_regex`). A line
    that is not plainly an Observation (another resourceType, or none written plainly) is
    always kept: only Observations are left out."""
    if b"\\" in line:
        return _parsed_may_be_lab(line, labs)
    types = line.count(_RESOURCE_TYPE)
    if types == 0 or types != len(_OBSERVATION_TYPES.findall(line)):
        return True
    return _lab_regex(labs).search(line) is not None


_Route = tuple[int, bytearray, bytes]  # partition, its buffer, row prefix
_UNSEEN: _Route = (-2, bytearray(), b"")  # sentinel: a reference not resolved yet
_SKIP: _Route = (-1, bytearray(), b"")  # a patient the encounter scan does not look for
_ENCOUNTER_TYPE = b'"resourceType":"Encounter"'
_ENCOUNTER_TYPES = re.compile(rb'"resourceType"\s*:\s*"Encounter"')


def _plainly_encounter(line: bytes) -> bool:
    """Every resourceType the line writes is plainly "Encounter" (and it writes one). A line
    with an escape is never plain (`"resourceTyp\\u0065"` is a resourceType too)."""
    if b"\\" in line:
        return False
    types = line.count(_RESOURCE_TYPE)
    return types > 0 and types == len(_ENCOUNTER_TYPES.findall(line))


class _Splitter:
    """Stage A's routing of one export file's lines (see `split_file`)."""

    def __init__(
        self,
        file: ExportFile,
        shards: _Shards,
        partitions: int,
        buckets: int,
        labs: frozenset[bytes] | None,
        encounters: str = "route",
        wanted: frozenset[str] | None = None,
    ) -> None:
        self.file = file
        self.encounters = encounters  # "route", "skip" or "only" (see split_file)
        self.wanted = wanted
        self.folder = "enc" if encounters == "only" else "parts"
        self.shards = shards
        self.partitions = partitions
        self.buckets = buckets
        self.labs = labs
        self.stats = SplitStats()
        self.quick = file.resource_type not in ("Patient", "Medication")
        self.kind = b"E" if file.resource_type == "Encounter" else b"R"
        self.origin = b"%06d:" % file.index  # origins are fixed-width: they sort as bytes
        # subject reference as written -> (partition, its buffer, row prefix
        # "kind<TAB>key<TAB>file:"),
        # or None when it names no Patient; cleared when large (bounded memory)
        self.routes: dict[bytes, _Route | None] = {}
        self.part_buffers: dict[int, bytearray] = {}

    def _part_buffer(self, part: int) -> bytearray:
        buffer = self.part_buffers.get(part)
        if buffer is None:
            buffer = self.part_buffers[part] = self.shards.buffer(f"{self.folder}/p{part:04d}")
        return buffer

    def block(self, block: bytes, before: int, newlines: int) -> None:
        """Every line of `block` (`newlines` newline bytes), whose first line is line
        `before + 1` of the file."""
        encounters = self.encounters
        if encounters != "route":
            ended = block.endswith(b"\n")
            count = newlines + (0 if ended else 1)
            if encounters == "only" and self._nothing_wanted(block, count):
                return
            # every line plainly one Encounter, by counts (no escape or contained resource that
            # could make one line hold two resourceTypes and another none)
            only = (
                b"\\" not in block
                and b'"contained"' not in block
                and block.count(_ENCOUNTER_TYPE) == count == block.count(_RESOURCE_TYPE)
            )
            if only and encounters == "skip":  # every line an Encounter: for the later scan
                self.stats.lines += count
                self.stats.bytes += len(block) + (0 if ended else 1)
                self.stats.deferred += count
                return
            if only and self._plain_block(block, before, newlines):  # "only"
                return
        if self.labs is not None:
            done = self._observation_block(block, before, newlines, self.labs)
        else:
            done = (
                encounters == "route" and self.quick and self._plain_block(block, before, newlines)
            )
        if not done:
            lines = block.split(b"\n")
            if block.endswith(b"\n"):
                lines.pop()
            labs = self.labs
            stats = self.stats
            number = before
            for line in lines:
                number += 1
                size = len(line) + 1
                if not (line.startswith(b"{") and line.endswith(b"}")):
                    line = line.strip()
                    if not line:
                        continue
                stats.lines += 1
                stats.bytes += size
                if labs is not None and not _may_be_lab(line, labs):
                    stats.not_used += 1
                    continue
                if encounters != "route" and _plainly_encounter(line) != (encounters == "only"):
                    stats.deferred += encounters == "skip"  # (or routed by stage A already)
                    continue
                self.line(line, number)
        if self.shards.buffered > self.shards.LIMIT:
            self.shards.flush()

    def _observation_block(
        self, block: bytes, before: int, newlines: int, labs: frozenset[bytes]
    ) -> bool:
        """An Observation file's block in one pass of `_lab_regex` over the whole block, when
        the block is plain: no backslash, and as many `"resourceType"` keys as lines, each
        written `"resourceType":"Observation"` (so, in practice, one Observation per line and
        no blank line). Only the lines the pass matches are routed; the others are counted.
        Returns False (nothing done) for any other block, which the caller then reads line by
        line. The checks are whole-block byte searches (together about half the pass's cost).
        (Counting cannot tell a line holding two Observations, a contained one, from a line that
        is no resource at all; such a line, without a lab code, would be counted as not used
        instead of reported as malformed.)"""
        ended = block.endswith(b"\n")
        lines = newlines + (0 if ended else 1)
        if b"\\" in block or block.count(_OBSERVATION_TYPE) != lines:
            return False
        if block.count(_RESOURCE_TYPE) != lines:
            return False
        search = _lab_regex(labs).search
        number, counted, kept, size = before, 0, 0, len(block)
        found = search(block)
        while found is not None:
            at = found.start()
            start = block.rfind(b"\n", 0, at) + 1
            end = block.find(b"\n", at)
            if end < 0:
                end = size
            number += block.count(b"\n", counted, start)
            counted = start
            self.line(block[start:end].strip(), number + 1)
            kept += 1
            found = search(block, end)
        self.stats.lines += lines
        self.stats.bytes += size + (0 if ended else 1)
        self.stats.not_used += lines - kept
        return True

    def _plain_block(self, block: bytes, before: int, newlines: int) -> bool:
        """A block routed in one pass of a regular expression for the compact subject reference,
        when that is certain to route each line as `line` would: every line has exactly one
        `"subject"`, written `"subject":{"reference":"...`, and the block has no `"patient"` and
        no `"contained"`. Returns False (nothing done) for any other block; the caller then
        goes line by line."""
        ended = block.endswith(b"\n")
        lines = newlines + (0 if ended else 1)
        if block.count(b'"subject"') != lines:
            return False
        if b'"patient"' in block or b'"contained"' in block or b"\\" in block:
            return False  # (an escape could spell a second "subject" key the count misses)
        if self.kind == b"E" and not (
            b"\\" not in block
            and block.count(_ENCOUNTER_TYPE) == lines == block.count(_RESOURCE_TYPE)
        ):
            return False  # an Encounter file's rows say E: only for lines that are Encounters
        # Where each match lies. The spans run from one line's start to the end of the line of
        # the next match; with as many spans as lines and no two matches in one span, each span
        # is exactly one line, holding exactly one match.
        spans: list[tuple[int, int, bytes]] = []
        start = 0
        for match in _COMPACT_SUBJECT_LINE.finditer(block):
            if match.start() < start:
                return False  # two in one line
            end = match.end()
            spans.append((start, end, match[1]))
            start = end + 1
        if len(spans) != lines:
            return False
        routes, medication_refs = self.routes, b'"medicationReference"' in block
        buffered = 0
        number = before
        for start, end, reference in spans:
            number += 1
            route = routes.get(reference, _UNSEEN)
            if route is _UNSEEN:
                route = self._route(reference)
            if route is None or block[start] != 123 or block[end - 1] != 125:  # "{", "}"
                line = block[start:end].strip()
                if route is None:
                    self._parsed(line, number)
                    continue
            else:
                line = block[start:end]
            part, buffer, prefix = route
            if part < 0:
                continue  # the encounter scan: not a patient it looks for
            buffer += prefix
            buffer += b"%010d\t" % number
            buffer += line
            buffer += b"\n"
            buffered += len(prefix) + len(line) + 12
            if medication_refs and b'"medicationReference"' in line:
                self._medication_needs(line, part)
        self.shards.buffered += buffered
        self.stats.lines += lines
        self.stats.bytes += len(block) + (0 if ended else 1)
        return True

    def _nothing_wanted(self, block: bytes, lines: int) -> bool:
        """The encounter scan's shortcut: True when one pass shows every line of the block
        routed by one compact subject reference (as many `"subject"` keys as lines, each
        written compactly; no `"patient"`, no `"contained"`) and none of those references
        names a patient the scan looks for: nothing of the block is needed. (Counting cannot
        tell one line with two references from one with none; such a line could only have been
        counted as unlinked or malformed.)"""
        if b'"patient"' in block or b'"contained"' in block or b"\\" in block:
            return False  # (an escaped "subject" key would not be counted)
        references = _ANY_SUBJECT.findall(block)  # b"" for each one not written compactly
        if len(references) != lines:
            return False
        distinct = set(references)
        if b"" in distinct:
            return False
        routes = self.routes
        for reference in distinct:
            route = routes.get(reference, _UNSEEN)
            if route is _UNSEEN:
                route = self._route(reference)
            if route is not _SKIP:
                return False
        self.stats.lines += lines
        return True

    def line(self, line: bytes, number: int) -> None:
        """Route one non-blank, stripped line (line `number` of the file)."""
        if self.kind == b"E" and not _plainly_encounter(line):
            self._parsed(line, number)  # not an Encounter: its own resourceType says what
            return
        if self.quick and b'"contained"' not in line and b"\\" not in line:
            # (with an escape, "subj\u0065ct" would be a key the byte search does not see)
            found = _compact_subject(line) or _SUBJECT.findall(line)
            if len(found) == 1:
                reference = found[0]
                route = self.routes.get(reference, _UNSEEN)
                if route is _UNSEEN:
                    route = self._route(reference)
                if route is not None:
                    part, buffer, prefix = route
                    if part < 0:
                        return  # the encounter scan: not a patient it looks for
                    row = b"%s%010d\t%s\n" % (prefix, number, line)
                    buffer += row
                    self.shards.buffered += len(row)
                    if b'"medicationReference"' in line:
                        self._medication_needs(line, part)
                    return
        self._parsed(line, number)

    def _route(self, reference: bytes) -> _Route | None:
        if len(self.routes) > 100_000:
            self.routes.clear()
        key = patient_key(reference.decode("utf-8", "replace"))
        route = None
        if key is not None and self.wanted is not None and key not in self.wanted:
            route = _SKIP
        elif key is not None:
            part = partition_of(key, self.partitions)
            prefix = b"%s\t%s\t%s" % (self.kind, key.encode(), self.origin)
            route = (part, self._part_buffer(part), prefix)
        if len(reference) <= 256:  # remembered only when short: the memory stays bounded
            self.routes[reference] = route
        return route

    def _medication_needs(self, line: bytes, part: int) -> None:
        """Ask stage B for the Medication a routed line's medicationReference names: read with
        a byte search when the line writes exactly one, plainly; parsed otherwise (an escaped
        slash, an extension or a display with braces before the reference)."""
        found = _MED_REF.findall(line)
        if len(found) == 1 and line.count(b'"medicationReference"') == 1:
            self._needs(found[0].decode(), part)
            return
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            return  # stage C reports the line
        target = resource.get("medicationReference") if isinstance(resource, dict) else None
        if isinstance(target, dict) and isinstance(target.get("reference"), str):
            self._needs(target["reference"], part)

    def _needs(self, reference: str, part: int) -> None:
        """Stage B must copy the Medication `reference` names into partition `part`."""
        if self.encounters == "only":
            return  # stage B has run; an Encounter names no medicine the core reads
        med = medication_key(reference)
        if med is not None:
            bucket = partition_of(med, self.buckets)
            self.shards.write(f"meds/b{bucket:04d}", b"N\t%s\t%d\n" % (med.encode(), part))

    def _parsed(self, line: bytes, number: int) -> None:
        """A line the byte scan cannot route: parsed in full."""
        stats, name = self.stats, self.file.name
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            stats.problem(name, number, f"not valid JSON ({exc})")
            return
        kind_name = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind_name, str) or not kind_name:
            stats.problem(name, number, "not a FHIR resource (no resourceType)")
            return
        if kind_name not in READ_TYPES:
            stats.not_used += 1
            return
        origin = self.origin + b"%010d" % number
        if kind_name == "Medication":
            ident = resource.get("id")
            if not isinstance(ident, str) or usable_key(ident) is None:
                stats.problem(name, number, "Medication without a usable id")
                return
            bucket = partition_of(ident, self.buckets)
            self.shards.write(
                f"meds/b{bucket:04d}", b"D\t%s\t%s\t%s\n" % (ident.encode(), origin, line)
            )
            return
        key = top_level_patient(resource)
        if key is None:
            if kind_name == "Patient":
                stats.problem(
                    name, number, "Patient without a usable id (none, or a control character)"
                )
            else:
                stats.unlinked += 1
            return
        if self.wanted is not None and key not in self.wanted:
            return
        kind = b"P" if kind_name == "Patient" else b"E" if kind_name == "Encounter" else b"R"
        part = partition_of(key, self.partitions)
        row = b"%s\t%s\t%s\t%s\n" % (kind, key.encode(), origin, line)
        self._part_buffer(part).extend(row)
        self.shards.buffered += len(row)
        target = resource.get("medicationReference")
        if isinstance(target, dict) and isinstance(target.get("reference"), str):
            self._needs(target["reference"], part)


def split_file(
    file: ExportFile,
    task: int,
    scratch: str,
    partitions: int,
    buckets: int,
    lab_codes: frozenset[bytes] = frozenset(),
    encounters: str = "route",
    wanted: frozenset[str] | None = None,
) -> SplitStats:
    """Stage A for one export file. Returns what it saw; never raises for a bad line.

    `lab_codes` (from `lab_code_pattern`): when given, Observation lines without any of them
    are counted in `not_used` and left out (see the module docstring).

    `encounters`: "route" routes every line. "skip" (stage A on an Encounter file) counts the
    lines that are plainly Encounters (`deferred`) and routes only the others. "only" (the
    encounter scan, after stage C) routes only the lines "skip" left, only those of the
    patients in `wanted`, into enc/pNNNN; its `lines`, `bytes` and `not_used` are not to be
    added again.

    The file is read in blocks of whole lines. A line is routed by a byte search for its
    top-level subject reference (each distinct reference is resolved to its partition once);
    only lines the search cannot be sure of are parsed. Rows are collected per partition and
    written in batches.
    """
    labs = lab_codes if lab_codes and file.resource_type == "Observation" else None
    shards = _Shards(scratch, task)
    splitter = _Splitter(file, shards, partitions, buckets, labs, encounters, wanted)
    try:
        before = 0
        for block in read_blocks(file):
            newlines = block.count(b"\n")
            splitter.block(block, before, newlines)
            before += newlines
    finally:
        shards.close()
    return splitter.stats


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
