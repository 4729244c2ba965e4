"""Launch failures as a clinician reads them: what happened and what to do about it."""

from __future__ import annotations

from ldn_derm.errors import LdnError


class SmartLaunchError(LdnError):
    """A SMART launch that cannot go on; rendered as a page, never a traceback."""

    status = 400
    title = "The app could not be opened from the EHR"
    todo = "Close this window and open the app again from the patient's chart."

    def __init__(self, reason: str, *, todo: str | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if todo is not None:
            self.todo = todo
        if status is not None:
            self.status = status


class NotConfiguredError(SmartLaunchError):
    status = 404
    title = "SMART launch is not set up on this server"
    todo = (
        "Ask the administrator to register the app in the EHR and set LDN_SMART_CLIENT_ID and "
        "LDN_SMART_ISSUERS (see the README, 'Registering the app in an EHR')."
    )


class UnknownIssuerError(SmartLaunchError):
    status = 403
    title = "This EHR is not allowed to open the app"
    todo = (
        "Ask the administrator to add this EHR's FHIR base URL to LDN_SMART_ISSUERS if it "
        "should be allowed; otherwise open the app from your usual EHR."
    )


class LaunchExpiredError(SmartLaunchError):
    status = 400
    title = "This launch has expired or was not started here"
    todo = "Open the app again from the patient's chart; each launch link works once."


class ConsentDeniedError(SmartLaunchError):
    status = 403
    title = "Access to the record was not granted"
    todo = (
        "The app needs to read the patient's conditions, medicines, allergies and labs to "
        "assess them. Open it again from the chart and allow access, or use the Assess page's "
        "short form instead."
    )


class EhrUnavailableError(SmartLaunchError):
    status = 502
    title = "The EHR's server could not be reached"
    todo = "Try again in a minute; if it keeps failing, tell the EHR's support team."


class SessionExpiredError(SmartLaunchError):
    status = 401
    title = "Your session with the EHR has ended"
    todo = "Open the app again from the patient's chart to start a new session."


class PatientNotFoundError(SmartLaunchError):
    status = 404
    title = "The patient could not be found"
    todo = "Check that the right chart is open in the EHR and open the app again from it."
