"""Carry the assessed patient's record from Assess to Prescribe without storing it.

The record the user uploaded (or the short form's profile) travels back with the page as a
hidden form field: compressed, base64, and signed with the server's secret key and a time
stamp, so the server only accepts a record it handed out itself, for `MAX_AGE_SECONDS`.
Prescribe reads it through the same loader and assessment as the CLI's --patient
(`regimen.assessment.patient_context`), so the same block-or-override applies.
"""

from __future__ import annotations

import base64
import zlib

from fastapi import Request

from ldn_derm.errors import InputError

MAX_AGE_SECONDS = 12 * 3600  # a working day: after that, assess the patient again
MAX_RECORD_BYTES = 64 * 1024 * 1024  # decompressed; the loader has its own limit too
SALT = "ldn-web-patient-record"
MAX_NAME_CHARS = 120  # the file name shown in the banner


def _signer(request: Request) -> object:
    from itsdangerous import TimestampSigner

    from ldn_derm.web.registry.state import secret_key

    return TimestampSigner(secret_key(request.app.state.settings), salt=SALT)


def seal(request: Request, data: bytes, name: str) -> str:
    """The record as a signed token for a hidden form field."""
    from itsdangerous import TimestampSigner

    signer = _signer(request)
    assert isinstance(signer, TimestampSigner)
    packed = base64.urlsafe_b64encode(zlib.compress(data, 6)).decode()
    label = base64.urlsafe_b64encode(name[:MAX_NAME_CHARS].encode()).decode()
    return signer.sign(f"{label}.{packed}").decode()


def unseal(request: Request, token: str) -> tuple[bytes, str]:
    """(record bytes, file name) from a token `seal` made, or InputError saying why not."""
    from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

    signer = _signer(request)
    assert isinstance(signer, TimestampSigner)
    try:
        value = signer.unsign(token, max_age=MAX_AGE_SECONDS).decode()
    except SignatureExpired:
        raise InputError(
            "the assessed patient's record has expired (older than 12 hours): assess the "
            "patient again, then prescribe"
        ) from None
    except BadSignature:
        raise InputError(
            "the patient's record attached to this form was not issued by this server or was "
            "changed: assess the patient again, then prescribe"
        ) from None
    label, _, packed = value.partition(".")
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.urlsafe_b64decode(packed), MAX_RECORD_BYTES)
        name = base64.urlsafe_b64decode(label).decode()
        if inflater.unconsumed_tail:
            raise ValueError("too large")
    except (ValueError, zlib.error):
        raise InputError("the patient's record attached to this form cannot be read") from None
    return data, name
