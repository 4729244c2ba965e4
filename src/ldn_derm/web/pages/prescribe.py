"""Prescribe: the prescription preview, its downloads, and the assessed patient carried in.

A prescription built from an assessment carries the patient's record (carry.py) and goes
through the one prescribe pipeline with `patient_context`, exactly like `ldn prescribe
--patient`: a contraindication blocks it unless an override names its option with a reason.
Without a record the page says plainly that no patient was checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ldn_derm.errors import LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.regimen.prescription import Prescription
from ldn_derm.web import actions, presenters
from ldn_derm.web.pages import carry
from ldn_derm.web.pages.assess import short_name
from ldn_derm.web.pages.common import error_problem, form_values, render, validation_problem

router = APIRouter(include_in_schema=False)

PRESCRIBE_FIELDS = {
    "condition",
    "preset",
    "target_mg",
    "start_mg",
    "step_mg",
    "interval_days",
    "days",
    "time",
    "form",
    "salt",
    "concentration_mg_per_ml",
    "paper",
    "override_reason",  # shorthand for the contraindication override (as in the API)
}
OVERRIDE_PREFIX = "override_"


def prescribe_choices() -> dict[str, Any]:
    kb = get_knowledge()
    return {
        "conditions": [kb.conditions[c] for c in presenters.conditions_with_evidence()],
        "presets": list(kb.protocols.protocols),
        "low_dose": kb.drug.canonical_low_dose.label(),
        "override_options": [
            {"id": o.id, "title": o.title, "what": o.what.strip()}
            for o in kb.protocols.overrides.options
        ],
    }


_prescribe_choices = prescribe_choices  # the SMART pages use the same choices


@dataclass
class PrescribeForm:
    """The posted form: the API body (or the problem with it), the values to show again, and
    the carried patient record (bytes and name) when there is one."""

    body: Any
    problem: dict[str, Any] | None
    values: dict[str, Any]
    token: str | None = None
    record: tuple[bytes, str] | None = None
    overrides: dict[str, str] = field(default_factory=dict)


async def read_form(request: Request) -> PrescribeForm:
    from pydantic import ValidationError

    from ldn_derm.web.api.schemas import PrescribeIn

    form = await request.form()
    values = form_values(form, PRESCRIBE_FIELDS)
    overrides = {
        key.removeprefix(OVERRIDE_PREFIX): str(value).strip()
        for key, value in form.items()
        if key.startswith(OVERRIDE_PREFIX)
        and key not in PRESCRIBE_FIELDS  # override_reason: the API's shorthand field
        and isinstance(value, str)
        and value.strip()
    }
    values.update({OVERRIDE_PREFIX + k: v for k, v in overrides.items()})
    token = form.get("patient_token")
    token = token if isinstance(token, str) and token else None
    record = None
    if token is not None:
        try:
            record = carry.unseal(request, token)
        except LdnError as exc:
            return PrescribeForm(None, error_problem(exc), values, None)
    try:
        body = PrescribeIn(**values_for_api(values), overrides=overrides)
    except ValidationError as exc:
        return PrescribeForm(None, validation_problem(exc), values, token, record, overrides)
    return PrescribeForm(body, None, values, token, record, overrides)


def values_for_api(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in PRESCRIBE_FIELDS}


async def _prescribe_input(request: Request) -> tuple[Any, str | None, dict[str, Any]]:
    """(API body or None, error text or None, form values): the SMART pages' reader."""
    posted = await read_form(request)
    error = None
    if posted.problem is not None:
        error = str(posted.problem.get("detail") or posted.problem.get("title"))
    return posted.body, error, posted.values


def _patient_page_context(request: Request, posted: PrescribeForm) -> dict[str, Any]:
    """The banner and the assessment's blockers for the carried record (empty without one)."""
    if posted.record is None:
        return {}
    data, name = posted.record
    profile, assessment = actions.load_and_assess(data, name)
    return {
        "banner": presenters.profile_banner(profile, f"Assessed from {short_name(name)}"),
        "patient_token": posted.token,
        **presenters.prescribe_notes(profile, assessment),
    }


@router.get("/prescribe")
def prescribe_page(request: Request) -> Response:
    values = {"condition": request.query_params.get("condition", "")}
    return render(request, "prescribe.html", values=values, result=None, **prescribe_choices())


@router.post("/prescribe")
async def prescribe_for_patient(request: Request) -> Response:
    """The form for the patient just assessed (the record carried from the assessment)."""
    form = await request.form()
    token = form.get("patient_token")
    condition = form.get("condition")
    values = {"condition": condition if isinstance(condition, str) else ""}
    if not isinstance(token, str) or not token:
        return prescribe_page(request)
    try:
        record = carry.unseal(request, token)
    except LdnError as exc:
        return render(
            request, "prescribe.html", status=422, values=values, result=None,
            problem=error_problem(exc), **prescribe_choices(),
        )  # fmt: skip
    posted = PrescribeForm(None, None, values, token, record)
    return render(
        request,
        "prescribe.html",
        values=values,
        result=None,
        **_patient_page_context(request, posted),
        **prescribe_choices(),
    )


@router.post("/ui/prescribe")
async def prescribe_preview(request: Request) -> Response:
    posted = await read_form(request)
    problem = posted.problem
    result = monitoring = None
    if posted.body is not None:
        try:
            record, name = posted.record if posted.record else (None, "record")
            rx = actions.prescribe(posted.body, record, name)
            result = presenters.prescription_dict(rx)
            monitoring = presenters.monitoring_view(rx)
        except LdnError as exc:
            problem = error_problem(exc)
    context = _patient_page_context(request, posted) if posted.record else {}
    return render(
        request,
        "prescribe.html",
        status=200 if problem is None else problem.get("status", 422),
        values=posted.values,
        result=result,
        monitoring=monitoring,
        problem=problem,
        **context,
        **prescribe_choices(),
    )


async def _download(request: Request, make: Callable[[Any, PrescribeForm], Response]) -> Response:
    posted = await read_form(request)
    problem = posted.problem
    if posted.body is not None:
        try:
            return make(posted.body, posted)
        except LdnError as exc:
            problem = error_problem(exc)
    context = _patient_page_context(request, posted) if posted.record else {}
    return render(
        request,
        "prescribe.html",
        status=422,
        values=posted.values,
        result=None,
        problem=problem,
        **context,
        **prescribe_choices(),
    )


def _rx(body: Any, posted: PrescribeForm) -> Prescription:
    record, name = posted.record if posted.record else (None, "record")
    return actions.prescribe(body, record, name)


@router.post("/ui/prescribe/handout.pdf")
async def prescribe_pdf(request: Request) -> Response:
    from ldn_derm.web.api import handout_download

    return await _download(
        request, lambda body, p: handout_download(actions.handout_pdf(_rx(body, p), body.paper))
    )


@router.post("/ui/prescribe/prescription.pdf")
async def prescription_pdf(request: Request) -> Response:
    def make(body: Any, posted: PrescribeForm) -> Response:
        pdf = actions.prescription_pdf(_rx(body, posted), body.paper)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="ldn-prescription.pdf"'},
        )

    return await _download(request, make)


@router.post("/ui/prescribe/medication-request.json")
async def prescribe_json(request: Request) -> Response:
    from ldn_derm.web.api import medication_request_download

    return await _download(
        request, lambda body, p: medication_request_download(_rx(body, p).medication_request)
    )
