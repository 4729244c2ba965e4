"""Gather the FHIR resources a service needs: prefetch first, then the EHR's FHIR server.

Rules (CDS Hooks 2.0 §Prefetch Template): a key that is absent was not satisfied; a key whose
value is null means the query ran and found nothing; an OperationOutcome means the client
failed to get it. Missing keys are read from `fhirServer` with the `fhirAuthorization` token
when both are given; if a required key can be had neither way the service answers 412.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from ldn_derm.web.cds.services import ServiceDef

_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")
_MAX_PAGES = 5  # follow searchset `next` links at most this often per key


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


def _is_failure(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


async def gather(
    service: ServiceDef, body: dict[str, Any], timeout: float
) -> dict[str, list[dict[str, Any]]]:
    """Resources per prefetch key. Raises PrefetchMissingError for required keys we cannot get."""
    prefetch = body.get("prefetch")
    prefetch = prefetch if isinstance(prefetch, dict) else {}
    raw_context = body.get("context")
    context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
    server = body.get("fhirServer")
    auth = body.get("fhirAuthorization")
    token = auth.get("access_token") if isinstance(auth, dict) else None
    can_fetch = isinstance(server, str) and server.startswith(("http://", "https://")) and token

    out: dict[str, list[dict[str, Any]]] = {}
    to_fetch: dict[str, str] = {}
    missing: list[str] = []
    for key, template in service.prefetch.items():
        if key in prefetch and not _is_failure(prefetch[key]):
            out[key] = list(resources_in(prefetch[key]))  # null -> [] (query found nothing)
            continue
        query = fill_template(template, context)
        if can_fetch and query is not None:
            to_fetch[key] = query
        elif key in service.required:
            missing.append(key)
    if missing:
        raise PrefetchMissingError(missing)
    if to_fetch:
        fetched = await _fetch_all(str(server), str(token), to_fetch, timeout)
        for key in to_fetch:
            if key in fetched:
                out[key] = fetched[key]
            elif key in service.required:
                missing.append(key)
        if missing:
            raise PrefetchMissingError(missing)
    return out


async def _fetch_all(
    server: str, token: str, queries: dict[str, str], timeout: float
) -> dict[str, list[dict[str, Any]]]:
    import asyncio

    import httpx
    import orjson

    base = server.rstrip("/") + "/"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}

    async def one(client: httpx.AsyncClient, query: str) -> list[dict[str, Any]] | None:
        url: str | None = base + query.lstrip("/")
        found: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            if url is None:
                break
            try:
                response = await client.get(url)
            except httpx.HTTPError:
                return None
            if response.status_code == 404 and not found:
                return []  # an instance read that found nothing, like a null prefetch
            if response.status_code != 200:
                return None
            try:
                data = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                return None
            if _is_failure(data):
                return None
            found.extend(resources_in(data))
            url = _next_link(data) if isinstance(data, dict) else None
            if url and not url.startswith(base):
                break  # never send the token to another host
        return found

    async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
        results = await asyncio.gather(*(one(client, q) for q in queries.values()))
    return {k: r for k, r in zip(queries, results, strict=True) if r is not None}
