"""Numbered citations for the texts the program writes (prescription, monitoring, handout, CLI)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ldn_derm.knowledge.models import Reference


class Citations:
    """Numbers reference ids in order of first use, like a journal article."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def mark(self, refs: Iterable[str]) -> str:
        """' [1, 3]' for the given ids (empty string for none)."""
        nums: list[int] = []
        for ref in refs:
            if ref not in self.order:
                self.order.append(ref)
            nums.append(self.order.index(ref) + 1)
        return " [" + ", ".join(str(n) for n in sorted(set(nums))) + "]" if nums else ""


def reference_line(ref: Reference) -> str:
    """'Albers LN, ... Title. JAMA Dermatol 2017;153(10):1018-1020. PMID n (seen-abstract)'."""
    return f"{ref.vancouver(include_doi=False)} ({ref.certainty.value})"
