"""The cited knowledge base: YAML data validated by pydantic, loaded once and cached."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ldn_derm.knowledge.base import ConditionSummary, KnowledgeBase

DATA_DIR = Path(__file__).parent / "data"


@lru_cache(maxsize=1)
def get_knowledge() -> KnowledgeBase:
    """The shipped knowledge base, loaded on first use and kept for the process (and, validated,
    between processes: see `knowledge.cache`)."""
    from ldn_derm.knowledge.cache import load_cached

    return load_cached(DATA_DIR)


def load(data_dir: Path = DATA_DIR) -> KnowledgeBase:
    """Load and check the knowledge base in `data_dir` from its files (uncached)."""
    from ldn_derm.knowledge.loader import load as load_files  # PyYAML only when needed

    return load_files(data_dir)


__all__ = ["DATA_DIR", "ConditionSummary", "KnowledgeBase", "get_knowledge", "load"]
