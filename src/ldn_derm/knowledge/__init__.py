"""The cited knowledge base: YAML data validated by pydantic, loaded once and cached."""

from __future__ import annotations

from functools import lru_cache

from ldn_derm.knowledge.base import ConditionSummary, KnowledgeBase
from ldn_derm.knowledge.loader import DATA_DIR, load


@lru_cache(maxsize=1)
def get_knowledge() -> KnowledgeBase:
    """The shipped knowledge base, loaded on first use and cached for the process."""
    return load(DATA_DIR)


__all__ = ["DATA_DIR", "ConditionSummary", "KnowledgeBase", "get_knowledge", "load"]
