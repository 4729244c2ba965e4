"""What every page shares: the templates, rendering, form reading, and the error region.

Every form answers in place: the answer (verdict, preview, plot) or the error is drawn at the
top of the page's content and takes the focus (`autofocus` on its heading; htmx focuses it
after the swap, the browser on a page load). With JavaScript, htmx swaps the whole `#content`
of the answer page (4xx answers included, see base.html's htmx config); without JavaScript the
same forms post normally and get the same page back.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from ldn_derm import __version__
from ldn_derm.errors import LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.web.app_paths import TEMPLATES_DIR
from ldn_derm.web.problems import clinician_messages, problem_dict, problem_for_error

NAV = [
    ("monograph", "/monograph", "LDN at a glance"),
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
    context.setdefault("problem", None)
    context.setdefault("max_body_bytes", request.app.state.settings.max_body_bytes)
    return templates().TemplateResponse(request, name, context, status_code=status)


def render_page(name: str, **context: Any) -> str:
    """A page rendered without a request (the body-size middleware's error page)."""
    context.setdefault("active", "")
    context.setdefault("problem", None)
    return templates().get_template(name).render(**context)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not an API client or a CDS client)."""
    path = request.url.path
    if path.startswith(("/api/", "/cds-services", "/openapi.json")):
        return False
    return is_htmx(request) or "text/html" in request.headers.get("accept", "")


def _fragment_or_page(
    request: Request, fragment: str, page: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """The answer page (htmx swaps its `#content`); `fragment` is kept for older callers."""
    del fragment
    return render(request, page, status=status, **context)


def form_values(form: Any, fields: set[str]) -> dict[str, Any]:
    """Form fields as the API model expects them: blanks dropped."""
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


def error_problem(exc: LdnError) -> dict[str, Any]:
    """The problem details the API would answer for `exc`, for the page's error region."""
    status, slug, detail = problem_for_error(exc)
    return problem_dict(status, slug, detail)


def validation_problem(exc: Any) -> dict[str, Any]:
    """A pydantic ValidationError as problem details with messages for clinicians."""
    messages = clinician_messages([dict(e) for e in exc.errors()])
    body = problem_dict(422, "validation-error", " ".join(messages))
    body["errors"] = messages
    return body


def input_problem(detail: str, status: int = 422) -> dict[str, Any]:
    return problem_dict(status, "invalid-input", detail)
