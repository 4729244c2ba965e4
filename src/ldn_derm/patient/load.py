"""Bytes in, `PatientProfile` out: decide whether the input is a FHIR Bundle or a profile.

The caller (CLI, web upload) reads the bytes; this module does no I/O. Size is checked first
so that a huge upload is refused before any parsing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from ldn_derm.errors import PatientDataError
from ldn_derm.knowledge import KnowledgeBase
from ldn_derm.patient.fhir import profile_from_bundle
from ldn_derm.patient.profile import PatientProfile

MAX_INPUT_BYTES = 256 * 1024 * 1024  # a whole-life EHR export is a few MB; refuse absurd sizes
MAX_PROFILE_BYTES = 2 * 1024 * 1024  # a hand-written YAML profile is a few KB


def check_size(size: int, name: str) -> None:
    if size > MAX_INPUT_BYTES:
        raise PatientDataError(
            f"{name} is {size / 1024 / 1024:.0f} MB; the limit is "
            f"{MAX_INPUT_BYTES // 1024 // 1024} MB for one patient's record"
        )


def load_patient(
    data: bytes,
    *,
    as_of: date,
    name: str = "input",
    kb: KnowledgeBase | None = None,
) -> PatientProfile:
    """Parse `data` (FHIR Bundle JSON, or a profile in JSON/YAML) into a profile."""
    check_size(len(data), name)
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark, as some exports write
        data = data[3:]
    text_start = data.lstrip()[:1]
    if not text_start:
        raise PatientDataError(f"{name} is empty")
    looks_json = text_start in (b"{", b"[") or name.lower().endswith(".json")
    if looks_json:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise PatientDataError(f"{name} is not valid JSON ({_first_line(str(exc))})") from None
    else:
        document = _load_yaml(data, name)
    if not isinstance(document, dict):
        raise PatientDataError(
            f"{name} must hold one JSON/YAML object (a FHIR Bundle or a patient profile)"
        )
    if "resourceType" in document:
        return profile_from_bundle(document, as_of=as_of, kb=kb)
    from ldn_derm.patient.manual import profile_from_document  # pydantic form: only when needed

    return profile_from_document(document, as_of=as_of, kb=kb)


def _load_yaml(data: bytes, name: str) -> object:
    if len(data) > MAX_PROFILE_BYTES:
        raise PatientDataError(
            f"{name} is too large for a hand-written profile "
            f"(limit {MAX_PROFILE_BYTES // 1024 // 1024} MB); FHIR bundles must be JSON"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PatientDataError(f"{name} is neither JSON nor UTF-8 text") from None
    import yaml  # only hand-written profiles are YAML: FHIR bundles never pay for it

    # The C loader is several times faster; fall back where libyaml is missing.
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        # Aliases let a few lines of YAML expand into millions of entries; a profile needs none.
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise PatientDataError(f"{name}: YAML aliases (*name) are not allowed in a profile")
        return yaml.load(text, Loader=loader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PatientDataError(f"{name} is neither valid JSON nor valid YAML{where}") from None


def _first_line(text: str) -> str:
    return text.splitlines()[0][:120] if text else "parse error"
