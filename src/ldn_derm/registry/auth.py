"""Accounts, passwords (argon2), login rate limiting and server-side sessions.

- Passwords are hashed with argon2id (argon2-cffi defaults) and re-hashed on login when the
  parameters change.
- Logins are limited per (user name, address): after MAX_FAILURES failures within
  FAILURE_WINDOW the next attempt is refused until the oldest failure leaves the window. One
  address is also limited across all user names (MAX_ADDRESS_FAILURES in the same window), so
  it cannot try one password on many accounts. An IPv6 client is counted by its /64 network.
  The attempts live in the database, so the limits hold across server workers.
- A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, the
  user, a CSRF token, and idle/absolute expiry times. Logging out deletes the row.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ldn_derm.registry import audit
from ldn_derm.registry.audit import Actor
from ldn_derm.registry.db import Database
from ldn_derm.registry.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
)
from ldn_derm.registry.models import Clinic, LoginAttempt, User, WebSession, utcnow
from ldn_derm.registry.schemas import UserIn, parse
from ldn_derm.registry.vocab import Role

MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 30  # failures from one address, whatever the user names
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=1)
SESSION_MAX = timedelta(hours=12)
_LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # write last_seen at most once a minute


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against for unknown user names, so a wrong name costs as long as a wrong password.
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_username(username: str) -> str:
    return username.strip().lower()


# ------------------------------------------------------------------ accounts


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: Role
    clinic_id: int | None
    clinic_name: str | None
    active: bool

    def actor(self, ip: str | None = None, user_agent: str | None = None) -> Actor:
        return Actor(self.id, self.username, self.role, self.clinic_id, ip, user_agent)


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        clinic_id=user.clinic_id,
        clinic_name=user.clinic.name if user.clinic else None,
        active=user.active,
    )


def get_or_create_clinic(session: Session, name: str, demo: bool = False) -> Clinic:
    clinic = session.scalar(select(Clinic).where(Clinic.name == name))
    if clinic is None:
        clinic = Clinic(name=name, demo=demo)
        session.add(clinic)
        session.flush()
    return clinic


def create_user(db: Database, data: UserIn | dict[str, object], actor: Actor | None) -> UserInfo:
    """Add an account (clinic created when new). Only admins (or the command line) may do this."""
    user_in = data if isinstance(data, UserIn) else parse(UserIn, data, "new user")
    username = normalise_username(user_in.username)
    with db.transaction() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise ConflictError(f"user name '{username}' is already taken")
        clinic = get_or_create_clinic(s, user_in.clinic) if user_in.clinic else None
        user = User(
            username=username,
            password_hash=hash_password(user_in.password),
            role=user_in.role.value,
            clinic=clinic,
        )
        s.add(user)
        s.flush()
        audit.record(
            s,
            actor,
            "user.create",
            object_type="user",
            object_id=user.id,
            clinic_id=clinic.id if clinic else None,
            detail={"username": username, "role": user_in.role.value},
            username="command-line",
        )
        return _info(user)


def list_users(db: Database) -> list[UserInfo]:
    with db.transaction() as s:
        return [_info(u) for u in s.scalars(select(User).order_by(User.username))]


def set_active(db: Database, username: str, active: bool, actor: Actor | None) -> UserInfo:
    with db.transaction() as s:
        user = s.scalar(select(User).where(User.username == normalise_username(username)))
        if user is None:
            raise NotFoundError(f"no user named '{username}'")
        user.active = active
        if not active:
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
        audit.record(
            s,
            actor,
            "user.enable" if active else "user.disable",
            object_type="user",
            object_id=user.id,
            username="command-line",
        )
        return _info(user)


# ------------------------------------------------------------------ login


def _failures(s: Session, username: str, ip: str, now: datetime) -> list[datetime]:
    last_success = s.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success
        )
    )
    since = now - FAILURE_WINDOW
    if last_success is not None:
        last_success = _as_utc(last_success)
        since = max(since, last_success)
    return [
        _as_utc(t)
        for t in s.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.username == username,
                LoginAttempt.ip == ip,
                LoginAttempt.success.is_(False),
                LoginAttempt.at > since,
            )
            .order_by(LoginAttempt.at)
        )
    ]


def rate_limit_source(ip: str) -> str:
    """What the login limits count per: the IPv4 address, or the /64 network of an IPv6 one
    (one client usually holds a whole /64, and could rotate through it)."""
    import ipaddress

    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]  # not an address (a test client, a proxy's label): count it as given
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is an IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _serialise_logins_from(s: Session, ip: str) -> None:
    """On PostgreSQL, one login at a time per address: otherwise parallel attempts all count
    the failures before any of them is written, and together exceed the limits. (SQLite
    transactions begin IMMEDIATE, so there they are serialised already.)"""
    if s.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(
        hashlib.sha256(f"ldn-login:{ip}".encode()).digest()[:8], "big", signed=True
    )
    s.execute(select(func.pg_advisory_xact_lock(key)))


def _address_failures(s: Session, ip: str, now: datetime) -> list[datetime]:
    """Failed logins from `ip` within the window, oldest first, whatever the user names
    (the most recent MAX_ADDRESS_FAILURES of them: enough to say when the limit lifts)."""
    recent = s.scalars(
        select(LoginAttempt.at)
        .where(
            LoginAttempt.ip == ip,
            LoginAttempt.success.is_(False),
            LoginAttempt.at > now - FAILURE_WINDOW,
        )
        .order_by(LoginAttempt.at.desc())
        .limit(MAX_ADDRESS_FAILURES)
    )
    return sorted(_as_utc(t) for t in recent)


def _as_utc(t: datetime) -> datetime:
    """Aggregates (max) bypass the UTC column type on SQLite; make them aware again."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def authenticate(db: Database, username: str, password: str, ip: str) -> UserInfo:
    """Check a login; raises RateLimitedError or AuthenticationError (same message for a wrong
    name and a wrong password)."""
    # Anything outside the user-name alphabet cannot be an account; keep a storable key for the
    # rate limit (PostgreSQL refuses NUL in text).
    name = re.sub(r"[^a-z0-9._@-]", "?", normalise_username(username))[:64] or "?"
    source = rate_limit_source(ip)  # the limits count per source; the audit keeps the address
    now = utcnow()
    with db.transaction() as s:
        _serialise_logins_from(s, source)
        blocked_until = [
            failures[-limit] + FAILURE_WINDOW  # when enough failures have left the window
            for failures, limit in (
                (_failures(s, name, source, now), MAX_FAILURES),
                (_address_failures(s, source, now), MAX_ADDRESS_FAILURES),
            )
            if len(failures) >= limit
        ]
        if blocked_until:
            retry = max(int((max(blocked_until) - now).total_seconds()) + 1, 1)
        else:
            retry = 0
            user = s.scalar(select(User).where(User.username == name))
            ok = verify_password(user.password_hash if user else _dummy_hash(), password)
            ok = ok and user is not None and user.active
            s.add(LoginAttempt(username=name, ip=source, at=now, success=ok))
            if not ok or user is None:
                audit.record(s, None, "login", outcome="failed", username=name, ip=ip)
                failed = True
            else:
                failed = False
                if _hasher().check_needs_rehash(user.password_hash):
                    user.password_hash = hash_password(password)
                user.last_login_at = now
                s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=2)))
                info = _info(user)
                audit.record(s, info.actor(ip), "login", object_type="user", object_id=user.id)
    if retry:  # refused by the limits: audited (committed) before the refusal is raised
        with db.transaction() as s:
            audit.record(
                s,
                None,
                "login",
                outcome="rate-limited",
                username=name,
                ip=ip,
                object_type="user",
                detail={"retry_after_s": retry},
            )
        raise RateLimitedError(
            f"too many failed logins; try again in {retry // 60 + 1} minutes",
            retry_after_s=retry,
        )
    if failed:  # committed the failure above, then refuse
        raise AuthenticationError("user name or password is wrong")
    return info


# ------------------------------------------------------------------ sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    user: UserInfo
    csrf_token: str


def open_session(db: Database, user: UserInfo, ip: str | None) -> tuple[str, str]:
    """A new session for `user`: returns (cookie token, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    with db.transaction() as s:
        s.add(
            WebSession(
                token_hash=_token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_MAX,
                ip=ip,
            )
        )
        s.execute(delete(WebSession).where(WebSession.expires_at < now))
    return token, csrf


def load_session(db: Database, token: str | None) -> SessionInfo | None:
    """The session behind a cookie token, or None when missing, expired, idle or disabled."""
    if not token or len(token) > 128:
        return None
    now = utcnow()
    with db.transaction() as s:
        row = s.get(WebSession, _token_hash(token))
        if row is None:
            return None
        if row.expires_at < now or row.last_seen_at + SESSION_IDLE < now or not row.user.active:
            s.delete(row)
            return None
        if now - row.last_seen_at > _LAST_SEEN_RESOLUTION:
            row.last_seen_at = now
        return SessionInfo(user=_info(row.user), csrf_token=row.csrf_token)


def close_session(db: Database, token: str | None, actor: Actor | None) -> None:
    if not token:
        return
    with db.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))
        if actor is not None:
            audit.record(s, actor, "logout", object_type="user", object_id=actor.user_id)
