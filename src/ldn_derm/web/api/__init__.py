"""REST API (/api/v1): the CLI's commands as JSON in, JSON out."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query
from starlette.responses import Response

from ldn_derm import __version__
from ldn_derm.knowledge import get_knowledge
from ldn_derm.web import actions, presenters
from ldn_derm.web.api.schemas import (
    AssessIn,
    ConditionOut,
    EvidenceOut,
    EvidencePageOut,
    PrescribeIn,
    ReferenceOut,
    SimulateIn,
    VersionOut,
)

router = APIRouter()

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not found (problem details)", **_PROBLEM},
    422: {"description": "Invalid input (problem details)", **_PROBLEM},
}


def _default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(content: Any, indent: bool = False) -> bytes:
    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(content, default=_default, option=option)


def medication_request_download(resource: dict[str, Any]) -> Response:
    """The MedicationRequest as a FHIR JSON attachment (API and pages offer the same file)."""
    return Response(
        dumps(resource, indent=True),
        media_type="application/fhir+json",
        headers={"Content-Disposition": 'attachment; filename="ldn-medicationrequest.json"'},
    )


def handout_download(pdf: bytes) -> Response:
    """The patient handout as a PDF attachment."""
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="ldn-handout.pdf"'},
    )


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


@router.get("/ping", tags=["meta"], summary="Liveness check (a trivial JSON answer)")
async def ping() -> Response:
    return ORJSONResponse({"status": "ok"})


@router.get("/version", tags=["meta"], response_model=VersionOut)
def version() -> dict[str, str]:
    kb = get_knowledge()
    return {
        "app": __version__,
        "knowledge_base": kb.meta.version,
        "reviewed": kb.meta.reviewed.isoformat(),
    }


@router.get(
    "/conditions",
    tags=["evidence"],
    response_model=list[ConditionOut],
    summary="Conditions in the knowledge base, with an evidence summary each",
)
def conditions(with_evidence: bool = Query(False, description="Only those with studies")) -> Any:
    kb = get_knowledge()
    ids = presenters.conditions_with_evidence() if with_evidence else tuple(kb.conditions)
    return [presenters.condition_summary(kb, cid) for cid in ids]


@router.get(
    "/evidence",
    tags=["evidence"],
    response_model=list[EvidenceOut],
    responses=ERRORS,
    summary="Evidence entries, all or for one condition (like `ldn evidence`)",
)
def evidence(
    condition: str | None = Query(
        None, max_length=200, description="Condition id, name, ICD-10-CM/SNOMED code or alias"
    ),
) -> Any:
    kb = get_knowledge()
    ids = [kb.find_condition(condition).id] if condition else presenters.conditions_with_evidence()
    return [presenters.evidence_dict(kb, e) for cid in ids for e in kb.evidence_for(cid)]


@router.get(
    "/evidence/{condition}",
    tags=["evidence"],
    response_model=EvidencePageOut,
    responses=ERRORS,
    summary="One condition: summary, evidence entries and the references they cite",
)
def evidence_for(condition: str) -> Any:
    kb = get_knowledge()
    return presenters.evidence_page(kb, kb.find_condition(condition).id)


@router.get("/references", tags=["evidence"], response_model=list[ReferenceOut])
def references() -> Any:
    kb = get_knowledge()
    return [presenters.reference_dict(r) for r in kb.references.values()]


@router.get(
    "/references/{ref_id}", tags=["evidence"], response_model=ReferenceOut, responses=ERRORS
)
def reference(ref_id: str) -> Any:
    kb = get_knowledge()
    if ref_id not in kb.references:
        raise HTTPException(404, f"There is no reference '{ref_id}'.")
    return presenters.reference_dict(kb.references[ref_id])


@router.get("/drug", tags=["evidence"], summary="The LDN monograph, every statement cited")
def drug() -> Response:
    from ldn_derm.knowledge.monograph import monograph_sections

    kb = get_knowledge()
    return ORJSONResponse(
        {
            "drug": kb.drug.name,
            "standard_dose": kb.drug.standard_dose.label(),
            "low_dose": kb.drug.canonical_low_dose.label(),
            "sections": [s.as_dict() for s in monograph_sections(kb)],
        }
    )


@router.post(
    "/assess",
    tags=["assess"],
    responses=ERRORS,
    summary="Assess a patient (FHIR Bundle or short form): candidacy, findings, comparators",
)
def assess(body: AssessIn) -> Response:
    return ORJSONResponse(
        presenters.assessment_dict(actions.assess_api(body.bundle, body.profile, body.as_of))
    )


@router.post(
    "/prescribe",
    tags=["prescribe"],
    responses=ERRORS,
    summary="Build an LDN regimen and prescription (with the FHIR MedicationRequest)",
)
def prescribe(body: PrescribeIn) -> Response:
    return ORJSONResponse(presenters.prescription_dict(actions.prescribe(body)))


@router.post(
    "/prescribe/medication-request",
    tags=["prescribe"],
    responses=ERRORS,
    summary="The prescription as a FHIR R4 MedicationRequest (download)",
)
def medication_request(body: PrescribeIn) -> Response:
    return medication_request_download(actions.prescribe(body).medication_request)


@router.post(
    "/prescribe/handout.pdf",
    tags=["prescribe"],
    responses={**ERRORS, 200: {"content": {"application/pdf": {}}}},
    summary="The patient handout as PDF",
)
def handout_pdf(body: PrescribeIn) -> Response:
    return handout_download(actions.handout_pdf(actions.prescribe(body), body.paper))


@router.post(
    "/simulate",
    tags=["simulate"],
    responses=ERRORS,
    summary="Mechanism simulator: receptor occupancy over time for the chosen doses",
)
def simulate(body: SimulateIn) -> Response:
    return ORJSONResponse(presenters.simulation_dict(body))


@router.post(
    "/simulate/plot.svg",
    tags=["simulate"],
    responses={**ERRORS, 200: {"content": {"image/svg+xml": {}}}},
    summary="The occupancy plot (SVG) with its bands",
)
def simulate_plot(body: SimulateIn) -> Response:
    return Response(presenters.plot_svg(presenters.simulations(body)), media_type="image/svg+xml")
