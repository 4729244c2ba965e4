"""Errors the registry raises; all are `LdnError`s, so the CLI and the web map them uniformly."""

from __future__ import annotations

from ldn_derm.errors import InputError, LdnError


class RegistryInputError(InputError):
    """A value entered into the registry is out of range or malformed.

    `fields` maps each offending field name to a message, so a form can show the error beside it.
    """

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})


class NotFoundError(InputError):
    """The patient, course, visit or user does not exist (or is not visible to this user)."""


class ConflictError(InputError):
    """Someone else changed the record since it was loaded (optimistic version check)."""


class AuthenticationError(LdnError):
    """Not logged in, or the user name / password is wrong."""


class PermissionDeniedError(LdnError):
    """Logged in, but this role may not do this."""


class RateLimitedError(LdnError):
    """Too many failed logins for this user name from this address; wait before retrying."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CsrfError(LdnError):
    """A form or API write arrived without the session's anti-forgery token."""


class DatabaseNotReadyError(LdnError):
    """The database has no registry tables yet (run `ldn db upgrade`)."""
