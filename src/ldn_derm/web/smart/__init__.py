"""SMART App Launch (HL7 SMART App Launch 2.x): the web app as a SMART client of an EHR.

`/smart/launch` (EHR launch with `iss` and `launch`, standalone launch with `iss` alone) and
`/smart/callback` run the authorization-code flow with PKCE through authlib's OAuth 2 client;
the launched patient's record is read through the same bounded FHIR reader as the CDS service
and assessed by the core; tokens live only in the server-side session store.
"""

from ldn_derm.web.smart.routes import router

__all__ = ["router"]
