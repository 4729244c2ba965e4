"""Facts derived from several records at once: current pregnancy and breastfeeding.

Shared by the FHIR reader and the manual profile (where a stated status wins).
"""

from __future__ import annotations

from datetime import timedelta

from ldn_derm.patient.profile import PatientProfile, PregnancyStatus, Sex
from ldn_derm.patient.terminology import Matcher

_PREGNANCY_TESTS = ("hcg-urine", "pregnancy-status")


def derive_pregnancy_and_lactation(profile: PatientProfile, matcher: Matcher) -> None:
    """Set `pregnancy` / `lactating` from conditions and tests, unless already stated."""
    window = timedelta(days=matcher.param("pregnancy-current-days"))
    since = profile.as_of - window

    if profile.pregnancy is PregnancyStatus.UNKNOWN:
        # Current pregnancy records: active, and begun within the window (a pregnancy record
        # that is years old and still 'active' is a stale list entry, not a pregnancy).
        records = [
            c for c in profile.conditions_with("pregnancy") if c.onset is None or c.onset >= since
        ]
        tests = [
            lab
            for lab in profile.labs
            if lab.lab in _PREGNANCY_TESTS
            and lab.result is not None
            and lab.effective is not None
            and lab.effective >= since
        ]
        tests.sort(key=lambda lab: lab.effective or profile.as_of)
        latest_test = tests[-1] if tests else None
        latest_record = max((c.onset for c in records if c.onset), default=None)
        if (
            latest_test is not None
            and latest_test.result == "negative"
            and (
                latest_record is None
                or (latest_test.effective and latest_test.effective > latest_record)
            )
        ):
            profile.pregnancy = PregnancyStatus.NOT_PREGNANT
            profile.pregnancy_refs = (latest_test.ref,)
        elif records or (latest_test is not None and latest_test.result == "positive"):
            profile.pregnancy = PregnancyStatus.PREGNANT
            refs = [c.ref for c in records]
            if latest_test is not None and latest_test.result == "positive":
                refs.append(latest_test.ref)
            profile.pregnancy_refs = tuple(refs)
        elif profile.sex is Sex.MALE:
            profile.pregnancy = PregnancyStatus.NOT_PREGNANT

    if profile.lactating is None:
        nursing = profile.conditions_with("lactation")
        if nursing:
            profile.lactating = True
            profile.lactation_refs = tuple(c.ref for c in nursing)
