"""Prescribing: dose validation, titration schedules, compounding, FHIR prescription, monitoring.

Core API (pure functions, no file I/O):

- `validate_dose("4.5 mg")` -> `Dose` (or `DoseError` naming the likely slip)
- `build_regimen(target_mg=4.5, start_mg=1.5, step_mg=1.5, interval_days=14, days=90)`
  or `build_regimen(preset="albers-2017", interval_days=14)` -> `Regimen`
- `compound(regimen, "capsule" | "liquid", salt="hcl")` -> `CompoundingPlan`
- `build_monitoring_plan(condition, regimen)` -> `MonitoringPlan`
- `build_prescription(condition, regimen, form, ...)` -> `Prescription`
  (.text, .medication_request, .schedule, .monitoring)
- `patient_context(bundle)` -> `PatientContext` (runs the assessment; see `assessment.py`)
"""

from __future__ import annotations

from ldn_derm.regimen.compounding import CompoundingPlan, Form, SaltBasis, compound
from ldn_derm.regimen.dose import Dose, validate_dose
from ldn_derm.regimen.monitoring import MonitoringPlan, build_monitoring_plan
from ldn_derm.regimen.prescription import (
    Blocker,
    PatientContext,
    Prescription,
    build_prescription,
)
from ldn_derm.regimen.schedule import DoseTime, Regimen, Step, build_regimen

__all__ = [
    "Blocker",
    "CompoundingPlan",
    "Dose",
    "DoseTime",
    "Form",
    "MonitoringPlan",
    "PatientContext",
    "Prescription",
    "Regimen",
    "SaltBasis",
    "Step",
    "build_monitoring_plan",
    "build_prescription",
    "build_regimen",
    "compound",
    "validate_dose",
]
