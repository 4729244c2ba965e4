"""Read the launched patient's record through the CDS service's bounded FHIR reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ldn_derm.web.smart.errors import (
    EhrUnavailableError,
    PatientNotFoundError,
    SessionExpiredError,
    SmartLaunchError,
)
from ldn_derm.web.smart.oauth import READ_TYPES, REQUIRED_TYPES, granted

PAGE_SIZE = 100


def queries(patient_id: str, scope: str) -> tuple[dict[str, str], list[str]]:
    """(key -> FHIR query, resource types not read because the EHR did not grant them)."""
    from ldn_derm.web.cds.services import _observation_template

    pid = quote(patient_id, safe="")
    candidates = {
        "Patient": f"Patient/{pid}",
        "Condition": f"Condition?patient={pid}&_count={PAGE_SIZE}",
        "MedicationRequest": f"MedicationRequest?patient={pid}"
        f"&_include=MedicationRequest:medication&_count={PAGE_SIZE}",
        "MedicationStatement": f"MedicationStatement?patient={pid}"
        f"&_include=MedicationStatement:medication&_count={PAGE_SIZE}",
        "AllergyIntolerance": f"AllergyIntolerance?patient={pid}&_count={PAGE_SIZE}",
    }
    observations = _observation_template()
    if observations:
        candidates["Observation"] = (
            observations.replace("{{context.patientId}}", pid) + f"&_count={PAGE_SIZE}"
        )
    out: dict[str, str] = {}
    skipped: list[str] = []
    for rtype, query in candidates.items():
        if granted(scope, rtype, "r" if rtype == "Patient" else "s"):
            out[rtype] = query
        else:
            skipped.append(rtype)
    missing = [t for t in REQUIRED_TYPES if t in skipped]
    if missing:
        raise SmartLaunchError(
            f"The EHR did not grant read access to {', '.join(missing)}; the assessment "
            "cannot be made without them.",
            todo="Open the app again and allow access to the patient's record, or ask the "
            "EHR's administrator to grant the scopes listed in the README.",
            status=403,
        )
    return out, [t for t in skipped if t in READ_TYPES]


@dataclass
class PatientRecord:
    resources: list[dict[str, Any]]
    patient: dict[str, Any]
    not_read: list[str] = field(default_factory=list)  # types not granted
    incomplete: list[str] = field(default_factory=list)  # types with pages left unread


async def read_record(
    fhir_base: str, token: str, patient_id: str, scope: str, timeout: float
) -> PatientRecord:
    from ldn_derm.web.cds.prefetch import read_fhir

    wanted, not_read = queries(patient_id, scope)
    reads = await read_fhir(fhir_base, token, wanted, timeout)
    statuses = [r.status for r in reads.values() if r.failed]
    if 401 in statuses:
        raise SessionExpiredError(
            "The EHR no longer accepts this app's access token (it has expired or been revoked)."
        )
    if 403 in statuses:
        refused = sorted(k for k, r in reads.items() if r.failed and r.status == 403)
        raise SessionExpiredError(
            f"The EHR refused this app's access to {', '.join(refused)} (the access it granted "
            "may be narrower than the app needs, or it has been revoked); the record could not "
            "be read completely, so no assessment is shown."
        )
    if len(reads) < len(wanted) or statuses or any(r.failed for r in reads.values()):
        failed = sorted(k for k in wanted if k not in reads or reads[k].failed)
        raise EhrUnavailableError(
            f"The EHR's FHIR server did not answer for {', '.join(failed)}; the record could not "
            "be read completely, so no assessment is shown."
        )
    patients = [
        r for r in reads["Patient"].resources
        if r.get("resourceType") == "Patient" and r.get("id") == patient_id
    ]  # fmt: skip
    if not patients:
        raise PatientNotFoundError(f"The EHR has no patient with the id {patient_id!r}.")
    seen: set[tuple[str, str]] = set()
    resources: list[dict[str, Any]] = []
    for read in reads.values():
        for r in read.resources:
            key = (str(r.get("resourceType")), str(r.get("id")))
            if r.get("id") is not None and key in seen:
                continue  # an _include'd Medication named by several requests
            seen.add(key)
            resources.append(r)
    incomplete = sorted(k for k, r in reads.items() if r.truncated)
    return PatientRecord(resources, patients[0], not_read, incomplete)


async def create_resource(
    fhir_base: str, token: str, resource: dict[str, Any], timeout: float
) -> tuple[int, str | None]:
    """POST `resource` to its type's endpoint: (HTTP status, the new resource's id or None)."""
    import httpx
    import orjson

    url = fhir_base.rstrip("/") + "/" + str(resource["resourceType"])
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/fhir+json",
        "Content-Type": "application/fhir+json",
    }
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.post(url, content=orjson.dumps(resource), headers=headers)
    except (httpx.HTTPError, OSError):
        return 0, None
    new_id = None
    if response.status_code in {200, 201}:
        location = response.headers.get("location", "")
        parts = location.split("/_history")[0].rstrip("/").split("/")
        new_id = parts[-1] if location else None
        if new_id is None:
            try:
                body = orjson.loads(response.content)
                new_id = str(body.get("id")) if isinstance(body, dict) and body.get("id") else None
            except orjson.JSONDecodeError:
                pass
    return response.status_code, new_id
