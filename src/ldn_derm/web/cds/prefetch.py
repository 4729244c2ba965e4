"""Gather the FHIR resources a service needs: prefetch first, then the EHR's FHIR server.

Rules (CDS Hooks 2.0 §Prefetch Template): a key that is absent was not satisfied; a key whose
value is null means the query ran and found nothing; an OperationOutcome means the client
failed to get it. Missing keys are read from `fhirServer` with the `fhirAuthorization` token
when both are given; if a required key can be had neither way the service answers 412.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ldn_derm.web.cds.services import ServiceDef

_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")
DRAFT_MEDICATION = "draft-medication-"  # keys of Medications read for draft orders
_MAX_PAGES = 5  # follow searchset `next` links at most this often per key
# The fhirServer URL comes from the request: cap what one read may cost us. A page larger than
# this is treated as a failed read; the deadline bounds a server that drips bytes slowly (the
# per-read timeout alone restarts with every chunk).
MAX_FHIR_RESPONSE_BYTES = 16 * 1024 * 1024
_DEADLINE_READS = 3  # all reads of one call together: this many times the per-read timeout


class PatientMismatchError(Exception):
    """A Patient in the data that is not the patient in `context.patientId`."""

    def __init__(self, found: str, expected: str, prefetched: bool) -> None:
        where = "prefetched" if prefetched else "read from fhirServer"
        super().__init__(
            f"The Patient {where} has id '{found[:64]}', but context.patientId is "
            f"'{expected[:64]}': the data is for another patient, so no advice is given."
        )
        self.found = found
        self.expected = expected
        self.prefetched = prefetched


def check_patient(
    resources: dict[str, list[dict[str, Any]]], context: dict[str, Any], fetched: set[str]
) -> None:
    """Raise PatientMismatchError when any Patient resource is not `context.patientId`."""
    expected = context.get("patientId")
    if not isinstance(expected, str) or not expected:
        return
    for key, found in resources.items():
        for resource in found:
            if resource.get("resourceType") != "Patient":
                continue
            ident = resource.get("id")
            if ident != expected:
                raise PatientMismatchError(str(ident), expected, key not in fetched)


class PrefetchMissingError(Exception):
    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


def fill_template(template: str, context: dict[str, Any]) -> str | None:
    """The template with its context tokens replaced (URL-escaped), or None if one is missing."""
    missing = False

    def sub(match: re.Match[str]) -> str:
        nonlocal missing
        value = context.get(match.group(1))
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            missing = True
            return ""
        return quote(str(value), safe="")

    filled = _TOKEN.sub(sub, template)
    return None if missing else filled


def resources_in(value: Any) -> Iterator[dict[str, Any]]:
    """The resources in a prefetch value: a resource, a Bundle of entries, or null."""
    if not isinstance(value, dict):
        return
    if value.get("resourceType") == "Bundle":
        for entry in value.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and "resourceType" in resource:
                if resource["resourceType"] == "OperationOutcome":
                    continue  # searchset warnings ride along as OperationOutcome entries
                yield resource
    elif "resourceType" in value:
        yield value


def partial_search(value: Any) -> bool:
    """A prefetched searchset that says it holds only part of the matches: a `next` link (more
    pages the client did not send), or a `total` above its match entries."""
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return False
    if _next_link(value) is not None:
        return True
    total = value.get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        return False
    raw = value.get("entry")
    entries: list[Any] = raw if isinstance(raw, list) else []
    matches = 0
    for entry in entries:
        search = entry.get("search") if isinstance(entry, dict) else None
        mode = search.get("mode") if isinstance(search, dict) else None
        matches += mode in (None, "match")
    return total > matches


def _instance_read(template: str) -> bool:
    """A prefetch template that reads one resource (Type/id), not a search."""
    return "?" not in template


def _is_failure(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def _usable_server(
    server: Any, allowed: tuple[str, ...] = (), https_only: bool = False, listed_only: bool = False
) -> bool:
    """An http(s) fhirServer URL under one of the caller's `allowed` bases (when the issuer
    has a list), and https when `https_only`; with `listed_only` (JWT checks off: --dev on
    loopback) it must be named by a list, so an unauthenticated caller cannot make us fetch
    from anywhere, this machine's ports included."""
    from urllib.parse import urlsplit

    from ldn_derm.web.settings import fhir_base, under_bases

    if not isinstance(server, str):
        return False
    try:
        canonical = fhir_base(server)  # as httpx will send it
    except ValueError:
        return False  # not a plain http(s) base (httpx could not even parse some)
    if listed_only and not allowed:
        return False
    if not under_bases(canonical, allowed):
        return False
    return not https_only or urlsplit(canonical).scheme == "https"


async def gather(
    service: ServiceDef,
    body: dict[str, Any],
    timeout: float,
    *,
    listed_only: bool = False,
    allowed_servers: tuple[str, ...] = (),
    https_only: bool = False,
    partial: set[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Resources per prefetch key. Raises PrefetchMissingError for required keys we cannot get,
    and PatientMismatchError when a Patient (prefetched or fetched) is not context.patientId.

    Call it only for a verified caller; `allowed_servers` are the FHIR bases its issuer may
    name (empty: any server whose host resolves only to public addresses); `https_only`
    refuses plain http; `listed_only` (the --dev server that skips JWT verification) reads
    only a server that `allowed_servers` names. `partial`, when given, receives the keys whose
    resources are only part of what the search matched (a prefetched page with more to come,
    or pages left unread from fhirServer)."""
    partial = set() if partial is None else partial
    prefetch = body.get("prefetch")
    prefetch = prefetch if isinstance(prefetch, dict) else {}
    raw_context = body.get("context")
    context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
    server = body.get("fhirServer")
    auth = body.get("fhirAuthorization")
    token = auth.get("access_token") if isinstance(auth, dict) else None
    can_fetch = (
        _usable_server(server, allowed_servers, https_only, listed_only)
        and isinstance(token, str)
        and token
    )

    out: dict[str, list[dict[str, Any]]] = {}
    to_fetch: dict[str, str] = {}
    missing: list[str] = []
    for key, template in service.prefetch.items():
        # null answers a search ("found nothing"), but for an instance read such as
        # Patient/{{context.patientId}} it means the client could not get the resource:
        # read it from fhirServer, or 412 when it is required.
        unread = prefetch.get(key) is None and _instance_read(template)
        if key in prefetch and not _is_failure(prefetch[key]) and not unread:
            out[key] = list(resources_in(prefetch[key]))  # null -> [] (query found nothing)
            if partial_search(prefetch[key]):
                partial.add(key)
            continue
        query = fill_template(template, context)
        if can_fetch and query is not None:
            to_fetch[key] = query
        elif key in service.required:
            missing.append(key)
    if missing:
        raise PrefetchMissingError(missing)
    if can_fetch and service.hook in {"order-select", "order-sign"}:
        # Medications that draft orders reference but nobody sent (instance reads)
        from ldn_derm.regimen.orders import unresolved_medications

        sent = [r for found in out.values() for r in found]
        for i, reference in enumerate(unresolved_medications(context.get("draftOrders"), sent)):
            to_fetch[f"{DRAFT_MEDICATION}{i}"] = reference
    if to_fetch:
        from ldn_derm.web.settings import fhir_base

        # the canonical base that was checked, not the raw text (trailing spaces and the like)
        # a server no list names must resolve to public addresses only (no loopback,
        # link-local or private networks): checked when each connection is made
        reads = await read_fhir(
            fhir_base(str(server)), str(token), to_fetch, timeout, public_only=not allowed_servers
        )
        for key in to_fetch:
            read = reads.get(key)
            if read is not None and not read.failed:
                out[key] = read.resources
                if read.truncated:
                    partial.add(key)
            elif key in service.required:
                missing.append(key)
        if missing:
            raise PrefetchMissingError(missing)
    # a required instance read (the Patient) that the FHIR server answered with 404
    empty = [k for k in service.required if _instance_read(service.prefetch[k]) and not out[k]]
    if empty:
        raise PrefetchMissingError(empty)
    check_patient(out, context, set(to_fetch))
    return out


@dataclass(frozen=True)
class FhirRead:
    """What one query read: its resources (every page followed), whether pages were left
    unread (`truncated`: the page bound, or a `next` link outside the checked base), and for a
    failed read `failed` with the HTTP `status` (None: no answer, too large or not FHIR JSON)."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    failed: bool = False
    status: int | None = None


async def read_fhir(
    server: str, token: str, queries: dict[str, str], timeout: float, *, public_only: bool = False
) -> dict[str, FhirRead]:
    """Run `queries` (relative to the FHIR base `server`) with the bearer `token`, following
    searchset `next` links, with the bounds every read from an EHR has: at most a few pages per
    query, a byte cap per page, no redirects, the token never sent outside `server`, and one
    deadline for all reads. A query missing from the answer ran out of time.

    `server` must already be checked against the caller's allow-list (CDS Hooks: the issuer's
    `fhir_servers`; SMART: `smart_issuers`). With `public_only` every address the host
    resolves to must be public, and the connection goes to the address that was checked (a
    second lookup could answer differently)."""
    import asyncio

    import httpx
    import orjson

    from ldn_derm.web.settings import fhir_server_allowed

    base = server.rstrip("/") + "/"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}

    async def one(client: httpx.AsyncClient, query: str) -> FhirRead:
        url: str | None = base + query.lstrip("/")
        search = not _instance_read(query)  # Type?params: the answer must be a Bundle
        found: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            if url is None:
                break
            try:
                status, content = await _read_capped(client, url)
            except (
                httpx.HTTPError,
                httpx.InvalidURL,
                _TooLargeError,
                OSError,
                ValueError,
                OverflowError,
            ):
                return FhirRead(failed=True)  # InvalidURL, ValueError: a malformed `next` link
            if status == 404 and not found and not search:
                return FhirRead()  # an instance read that found nothing, like a null prefetch
            # (a search that answers 404 failed: "no matches" is an empty Bundle, and taking
            # the failure for one would pass over the patient's opioid orders)
            if status != 200:
                return FhirRead(failed=True, status=status)
            try:
                data = orjson.loads(content)
            except orjson.JSONDecodeError:
                return FhirRead(failed=True, status=status)
            if _is_failure(data):
                return FhirRead(failed=True, status=status)
            if search and not (isinstance(data, dict) and data.get("resourceType") == "Bundle"):
                return FhirRead(failed=True, status=status)  # [] or a lone resource: not an answer
            found.extend(resources_in(data))
            url = _next_link(data) if isinstance(data, dict) else None
            if url and not fhir_server_allowed(re.split(r"[?#]", url, maxsplit=1)[0], (base,)):
                return FhirRead(found, truncated=True)  # never send the token elsewhere
        return FhirRead(found, truncated=url is not None)

    # follow_redirects=False (httpx's default, stated here): a redirect is a failed read, so
    # the token never follows one to another host.
    transport = httpx.AsyncHTTPTransport()
    if public_only:
        # httpx has no public hook for the connection step; its pool's backend is the one
        pool = transport._pool
        pool._network_backend = PublicOnlyBackend(pool._network_backend)  # type: ignore[assignment]
    async with httpx.AsyncClient(
        timeout=timeout, headers=headers, follow_redirects=False, transport=transport
    ) as client:
        try:
            async with asyncio.timeout(timeout * _DEADLINE_READS):
                results = await asyncio.gather(*(one(client, q) for q in queries.values()))
        except TimeoutError:
            return {}
    return dict(zip(queries, results, strict=True))


class _TooLargeError(Exception):
    pass


async def _read_capped(client: Any, url: str) -> tuple[int, bytes]:
    """GET `url`; the status and the body, refusing bodies over MAX_FHIR_RESPONSE_BYTES."""
    async with client.stream("GET", url) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FHIR_RESPONSE_BYTES:
            raise _TooLargeError
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_FHIR_RESPONSE_BYTES:
                raise _TooLargeError
            chunks.append(chunk)
        return int(response.status_code), b"".join(chunks)


def is_public_address(address: str) -> bool:
    """A global unicast address: not loopback, link-local, private (RFC 1918, ULA), shared
    (100.64/10), multicast, reserved or unspecified; IPv4-mapped IPv6 judged as IPv4."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


class PublicOnlyBackend:
    """An httpcore network backend that resolves the host itself, refuses it unless every
    address is public, and connects to the first checked address (TLS still verifies the
    host name: httpcore takes it from the URL, not from this connection)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> Any:
        import asyncio
        import socket

        import httpcore

        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host[:100]!r}") from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses or not all(is_public_address(a) for a in addresses):
            raise httpcore.ConnectError(
                f"fhirServer host {host[:100]!r} resolves to a non-public address; "
                "name it in the issuer's fhir_servers list to read it"
            )
        return await self.inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        import httpcore

        raise httpcore.ConnectError("unix sockets are never used for fhirServer")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
