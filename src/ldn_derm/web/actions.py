"""The web's calls into the core, through the same entry points the CLI uses: the patient
loader (`patient.load_patient`), the assessment (`assess.assess`), the prescribe pipeline
(`regimen.pipeline.prescribe` with `regimen.assessment.patient_context`) and the reports.
Nothing is decided here; see presenters.py for how results are shown.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from ldn_derm.assess.models import Assessment
    from ldn_derm.patient import PatientProfile
    from ldn_derm.patient.manual import ProfileDocument
    from ldn_derm.regimen.prescription import PatientContext, Prescription
    from ldn_derm.web.api.schemas import PrescribeIn


def load_and_assess(
    data: bytes, name: str, as_of: date | None = None
) -> tuple[PatientProfile, Assessment]:
    """Bytes of a FHIR Bundle or a profile (an upload, the short form) -> (profile, assessment)."""
    from ldn_derm.assess import assess
    from ldn_derm.patient import load_patient

    profile = load_patient(data, as_of=as_of or date.today(), name=name)
    return profile, assess(profile)


def assess_api(
    bundle: dict[str, Any] | None, profile: ProfileDocument | None, as_of: date | None
) -> Assessment:
    """The REST API's body (already a JSON object) through the same loader."""
    from ldn_derm.assess import assess
    from ldn_derm.errors import InputError
    from ldn_derm.patient import profile_from_bundle, profile_from_document

    day = as_of or date.today()
    if bundle is not None:
        patient = profile_from_bundle(bundle, as_of=day)
    elif profile is not None:
        patient = profile_from_document(profile, as_of=day)
    else:
        raise InputError("give a FHIR bundle or a patient profile")
    return assess(patient)


def patient_for(data: bytes | None, name: str) -> PatientContext | None:
    """The prescription's patient from the record's bytes, as `ldn prescribe --patient` reads it."""
    if data is None:
        return None
    from ldn_derm.regimen.assessment import patient_context

    return patient_context(data, name=name)


def prescribe(body: PrescribeIn, record: bytes | None = None, name: str = "record") -> Prescription:
    """The one prescribe pipeline, with the patient's record when there is one (the API's
    `bundle`, or the record carried from the assessment)."""
    from ldn_derm.regimen.pipeline import prescribe as run

    if record is None and body.bundle is not None:
        record, name = orjson.dumps(body.bundle), "bundle"
    return run(body.to_request(), patient_for(record, name))


def handout_pdf(rx: Prescription, paper: str) -> bytes:
    from ldn_derm.reports.handout import render_handout_pdf

    return render_handout_pdf(rx, paper=paper)


def prescription_pdf(rx: Prescription, paper: str) -> bytes:
    from ldn_derm.reports.prescription import render_prescription_pdf

    return render_prescription_pdf(rx, paper=paper)
