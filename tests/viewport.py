"""What a person sees: an element shown inside the browser's viewport, for the browser tests."""

from __future__ import annotations

import time
from typing import Any


def in_viewport(page: Any, selector: str) -> bool:
    """The element is shown and its top (at least its first 40 px) lies inside the viewport,
    neither above, below nor beside it."""
    loc = page.locator(selector).first
    if not loc.is_visible():
        return False
    box = loc.bounding_box()
    size = page.viewport_size
    return bool(
        box and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= size["height"]
        and box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1
    )  # fmt: skip


def comes_into_view(page: Any, selector: str, seconds: float = 5.0) -> bool:
    """`in_viewport` once the page has settled: a person looks after a swap or a focus has
    finished scrolling (htmx scrolls to the top only after the swap settles). Polls for up to
    `seconds`; an element that never comes into view is still False."""
    deadline = time.monotonic() + seconds
    while not in_viewport(page, selector):
        if time.monotonic() >= deadline:
            return False
        page.wait_for_timeout(100)
    return True
