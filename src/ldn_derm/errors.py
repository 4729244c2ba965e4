"""One exception hierarchy for the whole program.

The core raises these with messages written for a clinician or pharmacist; the adapters turn
them into a one-line CLI error (exit status 2) or a 4xx problem-details response.
"""

from __future__ import annotations


class LdnError(Exception):
    """Base of every error ldn-derm raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(LdnError):
    """The caller gave something we cannot use (bad file, bad option, bad value)."""


class KnowledgeError(LdnError):
    """A knowledge-base data file is missing, malformed or inconsistent."""


class PatientDataError(InputError):
    """A patient record (FHIR bundle or profile) cannot be read."""


class DoseError(InputError):
    """A dose, unit or schedule is unsafe or implausible."""


class UnknownConditionError(InputError):
    """A condition name or code matches nothing in the knowledge base."""


class SimulationError(InputError):
    """A simulator request cannot be run (bad regimen, too many subjects...)."""


class BlockedError(LdnError):
    """An action was refused for a clinical reason (a contraindication blocks a prescription)."""
