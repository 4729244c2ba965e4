"""Mechanism: the receptor-occupancy simulator, with what has been measured stated first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ldn_derm.errors import LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.web import presenters
from ldn_derm.web.pages.assess import split_list
from ldn_derm.web.pages.common import (
    error_problem,
    form_values,
    input_problem,
    render,
    validation_problem,
)

router = APIRouter(include_in_schema=False)


def _mechanism_sources() -> dict[str, Any]:
    """What has been measured (a cited knowledge-base statement) and its references."""
    kb = get_knowledge()
    blockade = kb.pkpd.statement("blockade-outlasts-plasma")  # what the default model is fitted to
    measured = kb.pkpd.statement("occupancy-measured")
    ids = list(dict.fromkeys([*blockade.refs, *measured.refs]))
    refs = [presenters.reference_dict(kb.references[r]) for r in ids]
    return {
        "blockade": blockade,
        "measured": measured,
        "sources": refs,
        "numbers": {r["id"]: i for i, r in enumerate(refs, 1)},
    }


@router.get("/mechanism")
def mechanism_page(request: Request) -> Response:
    return render(request, "mechanism.html", values={}, result=None, **_mechanism_sources())


@router.post("/ui/simulate")
async def simulate_form(request: Request) -> Response:
    from pydantic import ValidationError

    from ldn_derm.web.api.schemas import SimulateIn

    form = await request.form()
    values = form_values(form, {"doses_mg", "dose_time", "days", "subjects"})
    problem = None
    result = None
    doses: list[float] = []
    text = str(values.get("doses_mg", "4.5"))
    for part in split_list(text):
        try:
            doses.append(float(part.lower().removesuffix("mg").strip()))
        except ValueError:
            problem = input_problem(
                f"'{part}' is not a dose in mg. Give numbers separated by commas "
                "(for example 1.5, 3, 4.5)."
            )
            break
    if problem is None and not doses:
        problem = input_problem("Give at least one daily dose in mg (for example 4.5).")
    if problem is None:
        try:
            body = SimulateIn(**{**values, "doses_mg": doses})
            result = presenters.simulation_view(body)
        except ValidationError as exc:
            problem = validation_problem(exc)
        except LdnError as exc:
            problem = error_problem(exc)
    return render(
        request,
        "mechanism.html",
        status=200 if problem is None else 422,
        values=values,
        result=result,
        problem=problem,
        **_mechanism_sources(),
    )
