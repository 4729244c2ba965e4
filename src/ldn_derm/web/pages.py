"""Server-rendered pages (Jinja2 + htmx): assess, prescribe, mechanism, evidence, references.

Forms post to /ui/* endpoints that answer with an HTML fragment for htmx to swap in; without
JavaScript the same forms post normally and get the full page back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, Response

from ldn_derm import __version__
from ldn_derm.errors import LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.web import views
from ldn_derm.web.app_paths import TEMPLATES_DIR
from ldn_derm.web.problems import PROBLEM_TYPES

router = APIRouter(include_in_schema=False)

NAV = [
    ("assess", "/assess", "Assess"),
    ("prescribe", "/prescribe", "Prescribe"),
    ("mechanism", "/mechanism", "Mechanism"),
    ("evidence", "/evidence", "Evidence"),
    ("references", "/references", "References"),
]


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(TEMPLATES_DIR))
    kb = get_knowledge()
    t.env.globals.update(
        nav=NAV,
        app_version=__version__,
        kb_version=kb.meta.version,
        kb_reviewed=kb.meta.reviewed.isoformat(),
        evidence_mix=kb.evidence_mix(),
        low_dose=kb.drug.canonical_low_dose.label(),
    )
    return t


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("active", name.split(".")[0].split("/")[-1])
    return templates().TemplateResponse(request, name, context, status_code=status)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.get("/")
def home(request: Request) -> Response:
    kb = get_knowledge()
    conditions = [views.condition_summary(kb, c) for c in views.conditions_with_evidence()]
    return render(request, "home.html", conditions=conditions, active="home")


@router.get("/evidence")
def evidence_index(request: Request) -> Response:
    kb = get_knowledge()
    conditions = [views.condition_summary(kb, c) for c in views.conditions_with_evidence()]
    return render(request, "evidence_index.html", conditions=conditions, active="evidence")


@router.get("/evidence/{condition}")
def evidence_condition(request: Request, condition: str) -> Response:
    kb = get_knowledge()
    try:
        cond = kb.find_condition(condition)
    except LdnError as exc:
        return render(request, "error.html", status=404, message=str(exc), active="evidence")
    page = views.evidence_page(kb, cond.id)
    numbers = {r["id"]: i for i, r in enumerate(page["references"], start=1)}
    return render(request, "evidence.html", page=page, numbers=numbers, active="evidence")


@router.get("/references")
def references(request: Request) -> Response:
    kb = get_knowledge()
    refs = sorted(
        (views.reference_dict(r) for r in kb.references.values()),
        key=lambda r: (r["authors"] or r["title"]).lower(),
    )
    return render(request, "references.html", refs=refs, active="references")


@router.get("/problems")
def problems(request: Request) -> Response:
    return render(request, "problems.html", problems=PROBLEM_TYPES, active="")


# ---------------------------------------------------------------- forms (htmx)


def _form_values(form: Any, fields: set[str]) -> dict[str, Any]:
    """Form fields as the API model expects them: blanks dropped, checkboxes as booleans."""
    out: dict[str, Any] = {}
    for key in fields:
        value = form.get(key)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        if value is not None:
            out[key] = value
    return out


def _explain_validation(exc: Any) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{field.replace('_', ' ')}: {err.get('msg', '')}" if field else err["msg"])
    return "; ".join(parts)


def _fragment_or_page(
    request: Request, fragment: str, page: str, status: int = 200, **context: Any
) -> Response:
    if is_htmx(request):
        return render(request, fragment, status=status, **context)
    return render(request, page, status=status, **context)


def _prescribe_choices() -> dict[str, Any]:
    kb = get_knowledge()
    return {
        "conditions": [kb.conditions[c] for c in views.conditions_with_evidence()],
        "presets": list(kb.protocols.protocols),
        "low_dose": kb.drug.canonical_low_dose.label(),
    }


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
    "override_reason",
}


async def _prescribe_input(request: Request) -> tuple[Any, str | None, dict[str, Any]]:
    from pydantic import ValidationError

    from ldn_derm.web.api.schemas import PrescribeIn

    form = await request.form()
    values = _form_values(form, PRESCRIBE_FIELDS)
    try:
        return PrescribeIn(**values), None, values
    except ValidationError as exc:
        return None, _explain_validation(exc), values


@router.get("/prescribe")
def prescribe_page(request: Request) -> Response:
    values = {"condition": request.query_params.get("condition", "")}
    return render(
        request, "prescribe.html", values=values, result=None, error=None, **_prescribe_choices()
    )


@router.post("/ui/prescribe")
async def prescribe_preview(request: Request) -> Response:
    from ldn_derm.web import domain

    body, error, values = await _prescribe_input(request)
    result = None
    if body is not None:
        try:
            result = domain.prescribe(body)
        except LdnError as exc:
            error = str(exc)
    status = 200 if error is None else 422
    return _fragment_or_page(
        request,
        "_prescription.html",
        "prescribe.html",
        status=status,
        values=values,
        result=result,
        error=error,
        **_prescribe_choices(),
    )


@router.post("/ui/prescribe/handout.pdf")
async def prescribe_pdf(request: Request) -> Response:
    from ldn_derm.web import domain
    from ldn_derm.web.api import handout_download

    return await _prescribe_download(
        request, lambda body: handout_download(domain.handout_pdf(body))
    )


@router.post("/ui/prescribe/medication-request.json")
async def prescribe_json(request: Request) -> Response:
    from ldn_derm.web import domain
    from ldn_derm.web.api import medication_request_download

    return await _prescribe_download(
        request,
        lambda body: medication_request_download(domain.prescribe(body)["medication_request"]),
    )


async def _prescribe_download(request: Request, download: Callable[[Any], Response]) -> Response:
    """The file `download(body)` makes from the form, or the form again with the error."""
    body, error, values = await _prescribe_input(request)
    if body is not None:
        try:
            return download(body)
        except LdnError as exc:
            error = str(exc)
    return render(
        request,
        "prescribe.html",
        status=422,
        values=values,
        result=None,
        error=error,
        **_prescribe_choices(),
    )


# ---------------------------------------------------------------- assess


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,;]+", text) if part.strip()]


_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.?[0-9A-Z]{1,4})?$", re.IGNORECASE)


def _condition_entry(text: str) -> dict[str, str]:
    """A form line as a profile condition: an ICD-10-CM code or a name."""
    return {"icd10cm": text.upper()} if _ICD10.match(text) else {"name": text}


@router.get("/assess")
def assess_page(request: Request) -> Response:
    return render(request, "assess.html", values={}, result=None, error=None)


@router.post("/ui/assess/upload")
async def assess_upload(request: Request) -> Response:
    import orjson

    from ldn_derm.web import domain

    form = await request.form()
    upload = form.get("bundle")
    error = None
    result = None
    if upload is None or isinstance(upload, str):
        error = "Choose a FHIR bundle file (JSON) to upload."
    else:
        raw = await upload.read()
        try:
            bundle = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            bundle = None
            error = f"The file '{upload.filename}' is not valid JSON ({exc})."
        if bundle is not None:
            if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
                error = f"The file '{upload.filename}' is not a FHIR Bundle."
            else:
                try:
                    result = domain.assessment_view(domain.assess(bundle, None, None))
                except LdnError as exc:
                    error = str(exc)
    status = 200 if error is None else 422
    return _fragment_or_page(
        request,
        "_assessment.html",
        "assess.html",
        status=status,
        values={},
        result=result,
        error=error,
    )


@router.post("/ui/assess/form")
async def assess_form(request: Request) -> Response:
    from pydantic import ValidationError

    from ldn_derm.patient.manual import ProfileDocument
    from ldn_derm.web import domain

    form = await request.form()
    values = _form_values(form, {"age", "sex", "conditions", "medications"})
    data: dict[str, Any] = {k: v for k, v in values.items() if k in {"age", "sex"}}
    data["conditions"] = [_condition_entry(x) for x in _split_list(values.get("conditions", ""))]
    data["medications"] = _split_list(str(values.get("medications", "")))
    if form.get("pregnant") == "true":
        data["pregnancy"] = "pregnant"
    if form.get("breastfeeding") == "true":
        data["lactating"] = True
    error = None
    result = None
    try:
        profile = ProfileDocument.model_validate(data)
        result = domain.assessment_view(domain.assess(None, profile, None))
    except ValidationError as exc:
        error = _explain_validation(exc)
    except LdnError as exc:
        error = str(exc)
    status = 200 if error is None else 422
    return _fragment_or_page(
        request,
        "_assessment.html",
        "assess.html",
        status=status,
        values=values,
        result=result,
        error=error,
    )


# ---------------------------------------------------------------- mechanism


def _mechanism_sources() -> dict[str, Any]:
    """What has been measured (a cited knowledge-base statement) and its references."""
    kb = get_knowledge()
    blockade = kb.pkpd.statement("blockade-outlasts-plasma")  # what the default model is fitted to
    measured = kb.pkpd.statement("occupancy-measured")
    ids = list(dict.fromkeys([*blockade.refs, *measured.refs]))
    refs = [views.reference_dict(kb.references[r]) for r in ids]
    return {
        "blockade": blockade,
        "measured": measured,
        "sources": refs,
        "numbers": {r["id"]: i for i, r in enumerate(refs, 1)},
    }


@router.get("/mechanism")
def mechanism_page(request: Request) -> Response:
    return render(
        request, "mechanism.html", values={}, result=None, error=None, **_mechanism_sources()
    )


@router.post("/ui/simulate")
async def simulate_form(request: Request) -> Response:
    from pydantic import ValidationError

    from ldn_derm.web import domain
    from ldn_derm.web.api.schemas import SimulateIn

    form = await request.form()
    values = _form_values(form, {"doses_mg", "dose_time", "days", "subjects"})
    error = None
    result = None
    try:
        doses = [float(x) for x in _split_list(str(values.get("doses_mg", "4.5")))]
    except ValueError:
        doses = []
        error = "Doses must be numbers in mg, separated by commas (e.g. 1.5, 3, 4.5)."
    if error is None:
        try:
            body = SimulateIn(**{**values, "doses_mg": doses})
            result = domain.simulation_view(body)
        except ValidationError as exc:
            error = _explain_validation(exc)
        except LdnError as exc:
            error = str(exc)
    status = 200 if error is None else 422
    return _fragment_or_page(
        request,
        "_simulation.html",
        "mechanism.html",
        status=status,
        values=values,
        result=result,
        error=error,
        **_mechanism_sources(),
    )
