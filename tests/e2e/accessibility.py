"""axe-core accessibility checks for the browser tests (axe-playwright-python bundles axe)."""

from __future__ import annotations

from typing import Any


def violations(
    page: Any, impacts: set[str] | None = None, ignore: frozenset[str] = frozenset()
) -> list[str]:
    """The axe-core (WCAG 2 A/AA and best-practice) violations on the page as it is now, as
    'rule (impact): n elements' lines; only the given impacts when `impacts` is set."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} element(s), e.g. "
        f"{v['nodes'][0]['target'] if v['nodes'] else '?'}"
        for v in found
        if (impacts is None or v["impact"] in impacts) and v["id"] not in ignore
    ]


def assert_accessible(
    page: Any, impacts: set[str] | None = None, ignore: frozenset[str] = frozenset()
) -> None:
    problems = violations(page, impacts, ignore)
    assert not problems, f"accessibility problems on {page.url}:\n" + "\n".join(problems)
