"""JSON API of the registry, under /api/v1/registry.

Authentication is the same session cookie as the pages: POST /session with JSON
{"username", "password"} logs in and returns the CSRF token that every later write must send in
the X-CSRF-Token header. Anonymous requests get 401; a role that may not do something gets 403;
another clinic's patient is 404 (its existence is not revealed). Errors are problem details
(application/problem+json: type, title, status, detail) with the registry's own members
{"error": <kind>, "message": <text for people>, "fields": {<field>: <problem>}}.
Updates (PATCH) must send the `version` they read; a stale version answers 409.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from ldn_derm.errors import InputError
from ldn_derm.registry import audit, auth
from ldn_derm.registry.analytics.cohort import cohort_report
from ldn_derm.registry.analytics.response import evaluate
from ldn_derm.registry.auth import SessionInfo
from ldn_derm.registry.fhir_io import course_to_fhir, patient_from_bundle
from ldn_derm.registry.service import Registry
from ldn_derm.registry.vocab import Role
from ldn_derm.web.registry import reporting
from ldn_derm.web.registry.security import (
    RegistryRoute,
    actor_of,
    clear_session_cookie,
    require_api_session,
    require_role,
    set_session_cookie,
)
from ldn_derm.web.registry.state import client_ip, registry_web

router = APIRouter(route_class=RegistryRoute, tags=["registry"])
Session = Annotated[SessionInfo, Depends(require_api_session)]
JsonBody = Annotated[dict[str, Any], Body()]


def _registry(request: Request, info: SessionInfo) -> Registry:
    return Registry(registry_web(request).db, actor_of(request, info))


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


# ------------------------------------------------------------------ session


@router.post("/session", summary="Log in (JSON body: username, password)")
def login(request: Request, body: JsonBody) -> Response:
    web = registry_web(request)
    # A body without Content-Type is parsed as JSON too, and a cross-site page can send one
    # without a CORS preflight: insist on JSON so no other site can log a browser in.
    if "json" not in request.headers.get("content-type", "").lower():
        raise InputError("send the login as JSON (Content-Type: application/json)")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InputError("send a JSON object with a username and a password")
    user = auth.authenticate(web.db, username, password, client_ip(request))
    token, csrf = auth.open_session(web.db, user, client_ip(request))
    response = _json({"username": user.username, "role": user.role.value, "csrf_token": csrf})
    set_session_cookie(response, web, token)
    return response


@router.get("/session", summary="Who is logged in, and the CSRF token for writes")
def whoami(info: Session) -> Response:
    u = info.user
    return _json(
        {
            "username": u.username,
            "role": u.role.value,
            "clinic": u.clinic_name,
            "csrf_token": info.csrf_token,
        }
    )


@router.delete("/session", summary="Log out")
def logout(request: Request, info: Session) -> Response:
    web = registry_web(request)
    auth.close_session(web.db, request.cookies.get("ldn_registry_session"), actor_of(request, info))
    response = Response(status_code=204)
    clear_session_cookie(response, web)
    return response


# ------------------------------------------------------------------ patients


@router.get("/patients", summary="Patients visible to you (names for clinicians only)")
def list_patients(request: Request, info: Session) -> Response:
    patients = _registry(request, info).list_patients()
    return _json({"patients": [p.as_json() for p in patients]})


@router.post("/patients", status_code=201, summary="Register a patient (clinicians)")
def create_patient(request: Request, info: Session, body: JsonBody) -> Response:
    return _json(_registry(request, info).create_patient(body).as_json(), 201)


@router.post(
    "/patients/import-fhir",
    summary="Register the Patient of a FHIR R4 bundle (id, name, birthDate, gender)",
)
def import_fhir(request: Request, info: Session, body: JsonBody) -> Response:
    patient, created = _registry(request, info).import_patient(patient_from_bundle(body))
    return _json({"patient": patient.as_json(), "created": created}, 201 if created else 200)


@router.get("/patients/{pseudonym}", summary="One patient and their courses")
def get_patient(request: Request, info: Session, pseudonym: str) -> Response:
    return _json(_registry(request, info).get_patient(pseudonym).as_json())


@router.patch("/patients/{pseudonym}", summary="Correct identifying fields (send `version`)")
def update_patient(request: Request, info: Session, pseudonym: str, body: JsonBody) -> Response:
    return _json(_registry(request, info).update_patient(pseudonym, body).as_json())


@router.post("/patients/{pseudonym}/courses", status_code=201, summary="Start a course")
def create_course(request: Request, info: Session, pseudonym: str, body: JsonBody) -> Response:
    return _json(_registry(request, info).create_course(pseudonym, body).as_json(), 201)


# ------------------------------------------------------------------ courses and visits


@router.get("/courses/{course_id}", summary="A course with its visits and response status")
def get_course(request: Request, info: Session, course_id: int) -> Response:
    course = _registry(request, info).get_course(course_id)
    data = course.as_json()
    data["outcome"] = reporting.outcome_json(evaluate(course))
    return _json(data)


@router.patch("/courses/{course_id}", summary="Stop a course or edit it (send `version`)")
def update_course(request: Request, info: Session, course_id: int, body: JsonBody) -> Response:
    return _json(_registry(request, info).update_course(course_id, body).as_json())


@router.post(
    "/courses/{course_id}/visits",
    status_code=201,
    summary="Record a visit (201; 200 when `client_token` repeats an earlier submission)",
)
def add_visit(request: Request, info: Session, course_id: int, body: JsonBody) -> Response:
    visit, created = _registry(request, info).add_visit(course_id, body)
    return _json(visit.as_json(), 201 if created else 200)


@router.patch("/visits/{visit_id}", summary="Correct a visit (send `version`)")
def update_visit(request: Request, info: Session, visit_id: int, body: JsonBody) -> Response:
    return _json(_registry(request, info).update_visit(visit_id, body).as_json())


@router.get("/courses/{course_id}/fhir", summary="The course as a FHIR R4 Bundle")
def course_fhir(request: Request, info: Session, course_id: int) -> Response:
    registry = _registry(request, info)
    course = registry.get_course(course_id)
    bundle = course_to_fhir(course)
    return Response(orjson.dumps(bundle), media_type="application/fhir+json")


@router.get("/courses/{course_id}/plot.png", summary="Trajectory plot (PNG)")
def course_plot(request: Request, info: Session, course_id: int) -> Response:
    return reporting.plot_response(_registry(request, info), course_id)


# ------------------------------------------------------------------ cohort


@router.get("/cohort", summary="Cohort analytics (pseudonymised)")
def cohort(request: Request, info: Session) -> Response:
    courses = _registry(request, info).cohort()
    return _json(reporting.report_json(cohort_report(courses)))


@router.get("/cohort.csv", summary="The cohort as pseudonymised CSV, one row per visit")
def cohort_export(request: Request, info: Session) -> Response:
    return reporting.cohort_csv_response(_registry(request, info))


# ------------------------------------------------------------------ accounts (admin)


@router.get("/users", summary="Accounts (admins)")
def users(request: Request, info: Session) -> Response:
    require_role(request, info, Role.ADMIN)
    rows = auth.list_users(registry_web(request).db)
    return _json(
        {
            "users": [
                {
                    "username": u.username,
                    "role": u.role.value,
                    "clinic": u.clinic_name,
                    "active": u.active,
                }
                for u in rows
            ]
        }
    )


@router.post("/users", status_code=201, summary="Add an account (admins)")
def add_user(request: Request, info: Session, body: JsonBody) -> Response:
    require_role(request, info, Role.ADMIN)
    user = auth.create_user(registry_web(request).db, body, actor_of(request, info))
    return _json(
        {"username": user.username, "role": user.role.value, "clinic": user.clinic_name}, 201
    )


@router.get("/audit", summary="Recent audit events (admins)")
def audit_log(request: Request, info: Session, limit: int = 200) -> JSONResponse:
    require_role(request, info, Role.ADMIN)
    with registry_web(request).db.transaction() as s:
        rows = audit.recent(s, min(max(limit, 1), 1000))
    return JSONResponse({"events": [r.__dict__ for r in rows]})
