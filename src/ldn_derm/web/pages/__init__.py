"""Server-rendered pages (Jinja2 + htmx), one router per area: knowledge (home, LDN at a
glance, evidence, references), assess, prescribe, mechanism. See common.py for how every form
answers in place."""

from __future__ import annotations

from fastapi import APIRouter

from ldn_derm.web.pages import assess, knowledge, mechanism, prescribe
from ldn_derm.web.pages.common import _fragment_or_page, render, templates
from ldn_derm.web.pages.prescribe import _prescribe_choices, _prescribe_input

router = APIRouter(include_in_schema=False)
for _area in (knowledge, assess, prescribe, mechanism):
    router.include_router(_area.router)

__all__ = [
    "_fragment_or_page",
    "_prescribe_choices",
    "_prescribe_input",
    "render",
    "router",
    "templates",
]
