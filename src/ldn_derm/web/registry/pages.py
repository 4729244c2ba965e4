"""HTML pages of the registry (plain forms, server-rendered Jinja2; no script needed).

/registry/login · /registry/patients · /registry/patients/{id} · /registry/courses/{id}
(visit entry, defaults from the last visit) · /registry/dashboard · /registry/users (admins) ·
/registry/audit (admins). Every POST carries the session's CSRF token in a hidden field.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from ldn_derm.errors import LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.registry import audit, auth
from ldn_derm.registry.analytics.cohort import cohort_report
from ldn_derm.registry.analytics.plots import response_png
from ldn_derm.registry.analytics.response import evaluate
from ldn_derm.registry.auth import SessionInfo
from ldn_derm.registry.errors import (
    AuthenticationError,
    ConflictError,
    CsrfError,
    RateLimitedError,
    RegistryInputError,
)
from ldn_derm.registry.fhir_io import course_to_fhir, patient_from_bundle
from ldn_derm.registry.schemas import MAX_DOSE_MG
from ldn_derm.registry.service import Registry
from ldn_derm.registry.views import CourseView
from ldn_derm.registry.vocab import (
    MEASURES,
    Adherence,
    DoseTime,
    GlobalScale,
    Measure,
    Role,
    Severity,
    Sex,
    SideEffect,
    StopReason,
)
from ldn_derm.web.registry import reporting
from ldn_derm.web.registry.security import (
    LOGIN_CSRF_COOKIE,
    PAGE_PREFIX,
    SESSION_COOKIE,
    RegistryRoute,
    actor_of,
    check_login_token,
    clear_session_cookie,
    current_session,
    new_login_token,
    require_form,
    require_role,
    require_session,
    set_login_cookie,
    set_session_cookie,
    status_of,
)
from ldn_derm.web.registry.state import client_ip, registry_web

router = APIRouter(route_class=RegistryRoute, include_in_schema=False)
Session = Annotated[SessionInfo, Depends(require_session)]
Form = Annotated[tuple[SessionInfo, FormData], Depends(require_form)]

VISIT_FIELDS = (
    "visit_date",
    "dose_mg",
    "dose_time",
    *(m.value for m in Measure),
    "investigator_global_scale",
    "adherence",
    "notes",
    "client_token",
)
STEP = {
    Measure.ITCH_NRS: "1",
    Measure.PASI: "0.1",
    Measure.BSA: "0.1",
    Measure.DLQI: "1",
    Measure.LPPAI: "0.01",
    Measure.GLOBAL: "1",
}


# ------------------------------------------------------------------ helpers


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _values(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def render(
    request: Request,
    template: str,
    info: SessionInfo | None,
    status: int = 200,
    **context: Any,
) -> Response:
    web = registry_web(request)
    return web.templates.TemplateResponse(
        request,
        template,
        {
            "user": info.user if info else None,
            "csrf": info.csrf_token if info else "",
            **context,
        },
        status_code=status,
    )


def _registry(request: Request, info: SessionInfo) -> Registry:
    return Registry(registry_web(request).db, actor_of(request, info))


def _home(info: SessionInfo) -> str:
    if info.user.role is Role.ADMIN:
        return f"{PAGE_PREFIX}/users"
    if info.user.role is Role.RESEARCHER:
        return f"{PAGE_PREFIX}/dashboard"
    return f"{PAGE_PREFIX}/patients"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the registry (no scheme, host or backslash tricks) may be a redirect."""
    if not target or not target.startswith(PAGE_PREFIX + "/"):
        return None
    return None if ("\\" in target or "://" in target or "//" in target) else target


# ------------------------------------------------------------------ login


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    info = current_session(request)
    return _redirect(_home(info) if info else f"{PAGE_PREFIX}/login")


def _login_page(
    request: Request, error: str | None = None, status: int = 200, username: str = ""
) -> Response:
    web = registry_web(request)
    token = new_login_token(web)
    insecure = web.secure_cookies and request.url.scheme == "http"
    response = render(
        request,
        "login.html",
        None,
        status,
        login_token=token,
        error=error,
        username=username,
        next=_safe_next(request.query_params.get("next")) or "",
        insecure_http=insecure,
    )
    set_login_cookie(response, web, token)
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    info = current_session(request)
    if info is not None:
        return _redirect(_home(info))
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    web = registry_web(request)
    form = await request.form()
    username = _text(form.get("username")) or ""
    password = form.get("password")
    try:
        await run_in_threadpool(check_login_token, request, web, _text(form.get("login_token")))
    except CsrfError as exc:
        return _login_page(request, str(exc), 403, username)
    if not isinstance(password, str) or not username:
        return _login_page(request, "enter your user name and password", 422, username)
    ip = client_ip(request)
    try:
        user = await run_in_threadpool(auth.authenticate, web.db, username, password, ip)
    except RateLimitedError as exc:
        response = _login_page(request, str(exc), 429, username)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except AuthenticationError as exc:
        return _login_page(request, str(exc), 401, username)
    token, _csrf = await run_in_threadpool(auth.open_session, web.db, user, ip)
    target = _safe_next(_text(form.get("next")))
    response = _redirect(target or _home(SessionInfo(user, "")))
    set_session_cookie(response, web, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PAGE_PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    info, _ = form
    web = registry_web(request)
    auth.close_session(web.db, request.cookies.get(SESSION_COOKIE), actor_of(request, info))
    response = _redirect(f"{PAGE_PREFIX}/login")
    clear_session_cookie(response, web)
    return response


# ------------------------------------------------------------------ patients


def _patients_page(
    request: Request,
    info: SessionInfo,
    status: int = 200,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    patients = _registry(request, info).list_patients()
    return render(
        request,
        "patients.html",
        info,
        status,
        patients=patients,
        sexes=list(Sex),
        errors=errors or {},
        error=error,
        values=values or {},
        today=date.today().isoformat(),
    )


@router.get("/patients")
def patients(request: Request, info: Session) -> Response:
    return _patients_page(request, info)


@router.post("/patients")
def create_patient(request: Request, form: Form) -> Response:
    info, data = form
    values = _values(data)
    try:
        patient = _registry(request, info).create_patient(
            {k: _text(values.get(k)) for k in ("given_name", "family_name", "birth_date", "sex")}
        )
    except RegistryInputError as exc:
        return _patients_page(request, info, 422, exc.fields, str(exc), values)
    return _redirect(f"{PAGE_PREFIX}/patients/{patient.pseudonym}?saved=patient")


@router.post("/patients/import")
def import_patient(request: Request, form: Form) -> Response:
    info, data = form
    upload = data.get("bundle")
    limit = registry_web(request).settings.max_body_bytes
    try:
        if not isinstance(upload, UploadFile):
            raise RegistryInputError("import: choose a FHIR bundle file (.json)")
        raw = upload.file.read(limit + 1)
        if len(raw) > limit:
            raise RegistryInputError(f"import: the file is larger than {limit // 1_000_000} MB")
        patient, created = _registry(request, info).import_patient(patient_from_bundle(raw))
    except LdnError as exc:
        if status_of(exc) != 422:  # bad file or bad data: say so on the page; others propagate
            raise
        return _patients_page(request, info, 422, error=str(exc))
    flag = "imported" if created else "already-registered"
    return _redirect(f"{PAGE_PREFIX}/patients/{patient.pseudonym}?saved={flag}")


def _patient_page(
    request: Request,
    info: SessionInfo,
    pseudonym: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    patient = _registry(request, info).get_patient(pseudonym)
    kb = get_knowledge()
    conditions = sorted(kb.conditions.values(), key=lambda c: c.name.lower())
    return render(
        request,
        "patient.html",
        info,
        status,
        patient=patient,
        conditions=conditions,
        measures=[MEASURES[m] for m in Measure],
        dose_times=list(DoseTime),
        errors=errors or {},
        error=error,
        values=values or {"start_date": date.today().isoformat(), "time_of_day": "bedtime"},
        saved=request.query_params.get("saved"),
        max_dose=MAX_DOSE_MG,
    )


@router.get("/patients/{pseudonym}")
def patient(request: Request, info: Session, pseudonym: str) -> Response:
    return _patient_page(request, info, pseudonym)


@router.post("/patients/{pseudonym}/courses")
def create_course(request: Request, form: Form, pseudonym: str) -> Response:
    info, data = form
    values = _values(data)
    regimen = {
        "start_dose_mg": _text(values.get("start_dose_mg")),
        "target_dose_mg": _text(values.get("target_dose_mg")),
        "time_of_day": _text(values.get("time_of_day")) or "bedtime",
        "source": "entered",
    }
    payload: dict[str, Any] = {
        "condition_id": _text(values.get("condition_id")),
        "primary_measure": _text(values.get("primary_measure")),
        "start_date": _text(values.get("start_date")),
        "notes": _text(values.get("notes")),
        "regimen": regimen,
    }
    try:
        course = _registry(request, info).create_course(pseudonym, payload)
    except LdnError as exc:
        if status_of(exc) != 422:
            raise
        fields = exc.fields if isinstance(exc, RegistryInputError) else {}
        fields = {k.removeprefix("regimen."): v for k, v in fields.items()}
        return _patient_page(request, info, pseudonym, 422, fields, str(exc), values)
    return _redirect(f"{PAGE_PREFIX}/courses/{course.id}?saved=course")


# ------------------------------------------------------------------ courses and visits


def _visit_defaults(course: CourseView) -> dict[str, str]:
    last = course.last_visit
    values = {
        "visit_date": date.today().isoformat(),
        "dose_mg": f"{course.regimen.get('start_dose_mg', '')}",
        "dose_time": str(course.regimen.get("time_of_day") or "bedtime"),
        "adherence": "all",
        "investigator_global_scale": "iga",
    }
    if last is not None:
        values["dose_mg"] = f"{last.dose_mg:g}"
        values["dose_time"] = last.dose_time
        values["adherence"] = last.adherence or ""
        if last.investigator_global_scale:
            values["investigator_global_scale"] = last.investigator_global_scale
    values["client_token"] = uuid.uuid4().hex
    return values


def _measure_rows(course: CourseView) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Form rows for the measures: (shown first: the primary, itch NRS and those recorded before;
    the rest, folded away)."""
    recorded = {m for v in course.visits for m in v.measures}
    last_value: dict[Measure, float] = {}
    for v in course.visits:
        last_value.update(v.measures)
    rows = []
    for m in Measure:
        spec = MEASURES[m]
        rows.append(
            {
                "key": m.value,
                "label": spec.label,
                "short": spec.short,
                "low": f"{spec.low:g}",
                "high": f"{spec.high:g}",
                "step": STEP[m],
                "last": None if m not in last_value else f"{last_value[m]:g}",
                "primary": m is course.primary_measure,
                # itch is recorded for every condition in the LDN studies: always at hand
                "first": m in (course.primary_measure, Measure.ITCH_NRS) or m in recorded,
            }
        )
    rows.sort(key=lambda r: (not r["primary"], not r["first"]))
    return [r for r in rows if r["first"]], [r for r in rows if not r["first"]]


def _course_page(
    request: Request,
    info: SessionInfo,
    course_id: int,
    status: int = 200,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    stop_values: dict[str, str] | None = None,
) -> Response:
    course = _registry(request, info).get_course(course_id)
    first, rest = _measure_rows(course)
    form_values = values if values is not None else _visit_defaults(course)
    effects = [
        {
            "key": e.value,
            "label": e.label,
            "value": form_values.get(f"se_{e.value}", ""),
            "detail": form_values.get(f"se_{e.value}_detail", ""),
        }
        for e in SideEffect
    ]
    shown = [MEASURES[m] for m in Measure if any(m in v.measures for v in course.visits)]
    return render(
        request,
        "course.html",
        info,
        status,
        course=course,
        outcome=evaluate(course),
        spec=MEASURES[course.primary_measure],
        first_measures=first,
        other_measures=rest,
        open_others=any(r["key"] in (errors or {}) for r in rest),
        table_measures=shown,
        effects=effects,
        severities=list(Severity),
        adherence=list(Adherence),
        scales=list(GlobalScale),
        dose_times=list(DoseTime),
        stop_reasons=list(StopReason),
        errors=errors or {},
        error=error,
        values=form_values,
        stop_values=stop_values or {"stop_date": date.today().isoformat()},
        saved=request.query_params.get("saved"),
        can_write=info.user.role is Role.CLINICIAN,
        max_dose=MAX_DOSE_MG,
        definition_note=reporting.DEFINITION_NOTE,
        effect_labels={e.value: e.label for e in SideEffect},
    )


@router.get("/courses/{course_id}")
def course(request: Request, info: Session, course_id: int) -> Response:
    return _course_page(request, info, course_id)


def visit_from_form(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: _text(values.get(k)) for k in VISIT_FIELDS}
    data = {k: v for k, v in data.items() if v is not None}
    if "investigator_global" not in data:
        data.pop("investigator_global_scale", None)
    data["side_effects"] = [
        {"effect": e.value, "severity": sev, "detail": _text(values.get(f"se_{e.value}_detail"))}
        for e in SideEffect
        if (sev := _text(values.get(f"se_{e.value}")))
    ]
    return data


@router.post("/courses/{course_id}/visits")
def add_visit(request: Request, form: Form, course_id: int) -> Response:
    info, data = form
    values = _values(data)
    try:
        _registry(request, info).add_visit(course_id, visit_from_form(values))
    except RegistryInputError as exc:
        fields = {k.split(".")[0]: v for k, v in exc.fields.items()}
        return _course_page(request, info, course_id, 422, fields, str(exc), values)
    except ConflictError as exc:  # a used form (after Back) holding a new visit: kept, not lost
        values["client_token"] = uuid.uuid4().hex  # saving again records it once
        return _course_page(request, info, course_id, 409, {}, str(exc), values)
    return _redirect(f"{PAGE_PREFIX}/courses/{course_id}?saved=visit#visits")


@router.post("/courses/{course_id}/stop")
def stop_course(request: Request, form: Form, course_id: int) -> Response:
    info, data = form
    values = _values(data)
    payload = {
        "version": _text(values.get("version")),
        "stop_date": _text(values.get("stop_date")),
        "stop_reason": _text(values.get("stop_reason")),
        "stop_detail": _text(values.get("stop_detail")),
    }
    try:
        _registry(request, info).update_course(course_id, payload)
    except RegistryInputError as exc:
        return _course_page(request, info, course_id, 422, {}, str(exc), None, values)
    return _redirect(f"{PAGE_PREFIX}/courses/{course_id}?saved=stopped")


@router.get("/courses/{course_id}/plot.png")
def course_plot(request: Request, info: Session, course_id: int) -> Response:
    return reporting.plot_response(_registry(request, info), course_id)


@router.get("/courses/{course_id}/fhir.json")
def course_fhir(request: Request, info: Session, course_id: int) -> Response:
    import orjson

    bundle = course_to_fhir(_registry(request, info).get_course(course_id))
    return Response(
        orjson.dumps(bundle, option=orjson.OPT_INDENT_2),
        media_type="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="course-{course_id}.fhir.json"'},
    )


# ------------------------------------------------------------------ cohort


@router.get("/dashboard")
def dashboard(request: Request, info: Session) -> Response:
    registry = _registry(request, info)
    report = cohort_report(registry.cohort())
    return render(
        request,
        "dashboard.html",
        info,
        report=report,
        scope=registry.clinic_name() or "all clinics",
        definition_note=reporting.DEFINITION_NOTE,
        measures=list(MEASURES.values()),
        severities=list(Severity),
        condition_names={p.condition_id: p.condition_name for p in report.published},
    )


@router.get("/dashboard/response.png")
def dashboard_plot(request: Request, info: Session) -> Response:
    report = cohort_report(_registry(request, info).cohort())
    return Response(response_png(report.response), media_type="image/png")


@router.get("/cohort.csv")
def cohort_export(request: Request, info: Session) -> Response:
    return reporting.cohort_csv_response(_registry(request, info))


# ------------------------------------------------------------------ admin


def _users_page(
    request: Request,
    info: SessionInfo,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
    saved: str | None = None,
) -> Response:
    require_role(request, info, Role.ADMIN)
    return render(
        request,
        "users.html",
        info,
        status,
        users=auth.list_users(registry_web(request).db),
        roles=list(Role),
        error=error,
        values=values or {"role": "clinician"},
        saved=saved or request.query_params.get("saved"),
    )


@router.get("/users")
def users(request: Request, info: Session) -> Response:
    return _users_page(request, info)


@router.post("/users")
def add_user(request: Request, form: Form) -> Response:
    info, data = form
    require_role(request, info, Role.ADMIN)
    values = _values(data)
    try:
        auth.create_user(
            registry_web(request).db,
            {
                "username": values.get("username", ""),
                "password": values.get("password", ""),
                "role": values.get("role", ""),
                "clinic": _text(values.get("clinic")),
            },
            actor_of(request, info),
        )
    except LdnError as exc:
        if status_of(exc) not in (409, 422):
            raise
        values.pop("password", None)
        return _users_page(request, info, status_of(exc), str(exc), values)
    return _redirect(f"{PAGE_PREFIX}/users?saved=user")


@router.get("/audit")
def audit_page(request: Request, info: Session) -> Response:
    require_role(request, info, Role.ADMIN)
    with registry_web(request).db.transaction() as s:
        rows = audit.recent(s, 300)
    return render(request, "audit.html", info, rows=rows)
