"""Fixtures for assessment tests: a helper that assesses a vignette bundle on a fixed date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from vignette_fhir import AS_OF, Bundle

from ldn_derm.assess import Assessment, assess
from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.patient import profile_from_bundle


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return get_knowledge()


@pytest.fixture
def run(kb: KnowledgeBase) -> Callable[..., Assessment]:
    def _run(bundle: Bundle | dict[str, Any], as_of: date = AS_OF) -> Assessment:
        data = bundle.json() if isinstance(bundle, Bundle) else bundle
        return assess(profile_from_bundle(data, as_of=as_of, kb=kb), kb)

    return _run
