"""A test double of an EHR's FHIR R4 server, over the shared Synthea bundles (tests only).

It is NOT part of the product: it stands in for the FHIR server behind the SMART launcher in
the launch tests, because no real FHIR server can be installed here from the package
registries (HAPI's JPA server is a WAR from GitHub releases, not a registry artifact). It
supports what the app and the launcher use:

- read: `GET /{type}/{id}` (404 with an OperationOutcome when absent);
- search: `GET /{type}?patient=…` (also `subject=`), token `code=system|code,…`, `_count`,
  `_include={Type}:medication`, paging through `next` links (`_offset`); other parameters
  (`_sort`, `status`…) are accepted and ignored, as a server may;
- create: `POST /{type}` (201 with Location), kept in memory;
- `/metadata`. The SMART `.well-known` document is served by the launcher, not here.

Synthea's `urn:uuid:` references are rewritten to `Type/id`, as a server would store them.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FHIR_JSON = "application/fhir+json"


class FhirStore:
    def __init__(self, bundles: list[Path]) -> None:
        self.by_type: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.created: list[dict[str, Any]] = []
        for path in bundles:
            bundle = json.loads(path.read_text(encoding="utf-8"))
            refs = {}
            for entry in bundle.get("entry") or []:
                r = entry.get("resource") or {}
                if entry.get("fullUrl") and r.get("id"):
                    refs[entry["fullUrl"]] = f"{r['resourceType']}/{r['id']}"
            for entry in bundle.get("entry") or []:
                r = _rewrite(entry.get("resource") or {}, refs)
                if r.get("id"):
                    self.by_type[r["resourceType"]][r["id"]] = r

    def search(self, rtype: str, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        found = list(self.by_type.get(rtype, {}).values())
        patient = (params.get("patient") or params.get("subject") or [None])[0]
        if patient:
            pid = patient.split("/")[-1]
            found = [r for r in found if _patient_of(r) == pid]
        codes = params.get("code")
        if codes:
            wanted = {c.strip() for c in codes[0].split(",")}
            found = [r for r in found if _codes(r) & wanted]
        return found


def _rewrite(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, refs) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in refs:
            out["reference"] = refs[ref]
        return out
    if isinstance(value, list):
        return [_rewrite(v, refs) for v in value]
    return value


def _patient_of(resource: dict[str, Any]) -> str | None:
    for key in ("subject", "patient"):
        ref = (resource.get(key) or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref.split("/", 1)[1]
    return None


def _codes(resource: dict[str, Any]) -> set[str]:
    out = set()
    for coding in (resource.get("code") or {}).get("coding") or []:
        out |= {f"{coding.get('system')}|{coding.get('code')}", str(coding.get("code"))}
    return out


def _outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-found", "diagnostics": text}],
    }


def make_app(store: FhirStore, base: str) -> Any:
    """The ASGI app; `base` is the URL it is reached at (for `next` links and Location)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def fhir(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(data, status_code=status, media_type=FHIR_JSON, headers=headers)

    async def metadata(_request: Request) -> Response:
        return fhir({"resourceType": "CapabilityStatement", "status": "active",
                     "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]})  # fmt: skip

    async def read(request: Request) -> Response:
        rtype, rid = request.path_params["rtype"], request.path_params["rid"]
        resource = store.by_type.get(rtype, {}).get(rid)
        if resource is None:
            return fhir(_outcome(f"{rtype}/{rid} not found"), 404)
        return fhir(resource)

    async def search(request: Request) -> Response:
        rtype = request.path_params["rtype"]
        params = parse_qs(urlsplit(str(request.url)).query)
        if rtype not in store.by_type and rtype[:1].islower():
            return fhir(_outcome(f"unknown resource type {rtype}"), 404)
        matches = store.search(rtype, params)
        count = int((params.get("_count") or ["50"])[0])
        offset = int((params.get("_offset") or ["0"])[0])
        page = matches[offset : offset + count]
        entries = [{"fullUrl": f"{base}/{rtype}/{r['id']}", "resource": r,
                    "search": {"mode": "match"}} for r in page]  # fmt: skip
        for include in params.get("_include") or []:
            if include.endswith(":medication"):
                seen = set()
                for r in page:
                    ref = (r.get("medicationReference") or {}).get("reference", "")
                    med = store.by_type.get("Medication", {}).get(ref.split("/")[-1])
                    if ref.startswith("Medication/") and med and ref not in seen:
                        seen.add(ref)
                        entries.append({"fullUrl": f"{base}/{ref}", "resource": med,
                                        "search": {"mode": "include"}})  # fmt: skip
        links = [{"relation": "self", "url": str(request.url)}]
        if offset + count < len(matches):
            rest = {k: v for k, v in params.items() if k != "_offset"}
            query = urlencode([*((k, x) for k, vs in rest.items() for x in vs),
                               ("_offset", str(offset + count))])  # fmt: skip
            links.append({"relation": "next", "url": f"{base}/{rtype}?{query}"})
        return fhir({"resourceType": "Bundle", "type": "searchset", "total": len(matches),
                     "link": links, "entry": entries})  # fmt: skip

    async def create(request: Request) -> Response:
        rtype = request.path_params["rtype"]
        try:
            resource = json.loads(await request.body())
        except ValueError:
            return fhir(_outcome("not JSON"), 400)
        if not isinstance(resource, dict) or resource.get("resourceType") != rtype:
            return fhir(_outcome(f"the body is not a {rtype}"), 400)
        resource["id"] = str(uuid.uuid4())
        store.by_type[rtype][resource["id"]] = resource
        store.created.append(resource)
        return fhir(resource, 201, {"Location": f"{base}/{rtype}/{resource['id']}/_history/1"})

    async def search_or_create(request: Request) -> Response:
        return await (create(request) if request.method == "POST" else search(request))

    return Starlette(
        routes=[
            Route("/metadata", metadata),
            Route("/{rtype}", search_or_create, methods=["GET", "POST"]),
            Route("/{rtype}/", search),  # the launcher asks for `/Encounter/?...`
            Route("/{rtype}/{rid}", read),
        ]
    )


@contextmanager
def serve(bundles: list[Path], port: int) -> Iterator[FhirStore]:
    """Run the double on 127.0.0.1:`port` in a thread for the duration of the block."""
    import time

    import uvicorn

    store = FhirStore(bundles)
    base = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        make_app(store, base), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in itertools.count():
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield store
    finally:
        server.should_exit = True
        thread.join(10)
