"""Rules that turn a `PatientProfile` into an `Assessment`: candidacy, findings, comparators.

`Finding` is the shared unit (assessment findings, comparator flags, CDS cards).
"""

from __future__ import annotations

from ldn_derm.assess.engine import assess
from ldn_derm.assess.models import (
    Assessment,
    Candidacy,
    ComparatorResult,
    Finding,
    Indication,
    NotAssessed,
    Severity,
)

__all__ = [
    "Assessment",
    "Candidacy",
    "ComparatorResult",
    "Finding",
    "Indication",
    "NotAssessed",
    "Severity",
    "assess",
]
