"""The knowledge pages: home, LDN at a glance (the monograph), evidence, references, errors."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ldn_derm.errors import LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.knowledge.models import PROVENANCE
from ldn_derm.web import presenters
from ldn_derm.web.pages.common import render
from ldn_derm.web.problems import PROBLEM_TYPES, problem_dict

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    kb = get_knowledge()
    conditions = [
        presenters.condition_summary(kb, c) for c in presenters.conditions_with_evidence()
    ]
    from ldn_derm.knowledge.monograph import QUESTIONS

    questions = [(qid, text) for qid, text, _ in QUESTIONS]
    return render(request, "home.html", conditions=conditions, questions=questions, active="home")


@router.get("/monograph")
def monograph(request: Request) -> Response:
    page = presenters.monograph_view(get_knowledge())
    return render(request, "monograph.html", page=page, numbers=page["numbers"])


@router.get("/evidence")
def evidence_index(request: Request) -> Response:
    kb = get_knowledge()
    conditions = [
        presenters.condition_summary(kb, c) for c in presenters.conditions_with_evidence()
    ]
    return render(request, "evidence_index.html", conditions=conditions, active="evidence")


@router.get("/evidence/{condition}")
def evidence_condition(request: Request, condition: str) -> Response:
    kb = get_knowledge()
    try:
        cond = kb.find_condition(condition)
    except LdnError as exc:
        return render(
            request,
            "error.html",
            status=404,
            problem=problem_dict(404, "unknown-condition", str(exc)),
            active="evidence",
        )
    page = presenters.evidence_page(kb, cond.id)
    numbers = {r["id"]: i for i, r in enumerate(page["references"], start=1)}
    return render(
        request,
        "evidence.html",
        page=page,
        numbers=numbers,
        provenance=PROVENANCE,
        active="evidence",
    )


@router.get("/references")
def references(request: Request) -> Response:
    kb = get_knowledge()
    refs = sorted(
        (presenters.reference_dict(r) for r in kb.references.values()),
        key=lambda r: (r["authors"] or r["title"]).lower(),
    )
    return render(request, "references.html", refs=refs, provenance=PROVENANCE, active="references")


@router.get("/problems")
def problems(request: Request) -> Response:
    return render(request, "problems.html", problems=PROBLEM_TYPES, active="")
