"""Assess: upload a FHIR record (or describe the patient) and get the verdict first.

Both forms go through the patient loader the CLI uses (`patient.load_patient`), then the
assessment. The answer page shows the patient banner (deceased first), the verdict, the
medicines the screen could not identify and what was not assessed, and carries the record to
Prescribe (signed, see carry.py) so the same block-or-override applies there.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ldn_derm.errors import LdnError
from ldn_derm.web import actions, presenters
from ldn_derm.web.pages import carry
from ldn_derm.web.pages.common import (
    error_problem,
    form_values,
    input_problem,
    render,
    validation_problem,
)

router = APIRouter(include_in_schema=False)

_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.?[0-9A-Z]{1,4})?$", re.IGNORECASE)

# what a file that is not a FHIR record usually is, from its first bytes
_NOT_FHIR = {
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive or an Office document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"<?xml": "an XML document (FHIR XML is not read; export the record as JSON)",
}


def short_name(name: str, keep: int = 28) -> str:
    """A long export file name shortened for the banner ('Chet_Thompson_eda17701-…json')."""
    if len(name) <= keep + 6:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{(stem if dot else name)[:keep]}…{dot}{ext if dot else ''}"


def split_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,;]+", text) if part.strip()]


def _condition_entry(text: str) -> dict[str, str]:
    """A form line as a profile condition: an ICD-10-CM code or a name."""
    return {"icd10cm": text.upper()} if _ICD10.match(text) else {"name": text}


@router.get("/assess")
def assess_page(request: Request) -> Response:
    return render(request, "assess.html", values={}, result=None)


def _answer(
    request: Request, data: bytes, name: str, source: str, values: dict[str, Any]
) -> Response:
    try:
        profile, assessment = actions.load_and_assess(data, name)
    except LdnError as exc:
        return render(
            request, "assess.html", status=422, values=values, result=None,
            problem=error_problem(exc), submitted=source,
        )  # fmt: skip
    result = presenters.assessment_view(presenters.assessment_dict(assessment), profile)
    return render(
        request,
        "assess.html",
        values=values,
        result=result,
        banner=presenters.profile_banner(profile, source),
        patient_token=carry.seal(request, data, name),
        submitted=source,
    )


@router.post("/ui/assess/upload")
async def assess_upload(request: Request) -> Response:
    form = await request.form()
    upload = form.get("bundle")
    if upload is None or isinstance(upload, str) or not upload.filename:
        problem = input_problem("Choose the patient's FHIR R4 record (a Bundle in JSON) to upload.")
        return render(request, "assess.html", status=422, values={}, result=None, problem=problem)
    data = await upload.read()
    name = str(upload.filename)
    for magic, what in _NOT_FHIR.items():
        if data.startswith(magic):
            problem = input_problem(
                f"'{name}' is {what}, not a FHIR record. Export the patient's record from the "
                "EHR as a FHIR R4 Bundle in JSON (or fill the short form)."
            )
            return render(
                request, "assess.html", status=422, values={}, result=None, problem=problem
            )
    return _answer(request, data, name, f"uploaded file {short_name(name)}", {})


@router.post("/ui/assess/form")
async def assess_form(request: Request) -> Response:
    from pydantic import ValidationError

    from ldn_derm.patient.manual import ProfileDocument

    form = await request.form()
    values = form_values(form, {"age", "sex", "conditions", "medications"})
    data: dict[str, Any] = {k: v for k, v in values.items() if k in {"age", "sex"}}
    data["conditions"] = [_condition_entry(x) for x in split_list(values.get("conditions", ""))]
    data["medications"] = split_list(str(values.get("medications", "")))
    if form.get("pregnant") == "true":
        data["pregnancy"] = "pregnant"
        values["pregnant"] = "true"
    if form.get("breastfeeding") == "true":
        data["lactating"] = True
        values["breastfeeding"] = "true"
    try:  # the form's own wording for its fields, before the loader reads it
        ProfileDocument.model_validate(data)
    except ValidationError as exc:
        return render(
            request, "assess.html", status=422, values=values, result=None,
            problem=validation_problem(exc), submitted="the short form",
        )  # fmt: skip
    return _answer(request, orjson.dumps(data), "the short form", "the short form", values)
