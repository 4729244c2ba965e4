"""Turn the core's findings into CDS Hooks cards (a card is a rendering of a finding).

The rules live in the core (ldn_derm.assess, and ldn_derm.regimen.orders for which draft
orders are LDN orders and what they give, rendered from ldn_derm.web.cds.findings); this module only
decides how a finding looks as a card: summary under 140 characters, Markdown detail with
citations, the source reference, override reasons, and uuids on cards and suggestions so that
feedback can refer to them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ldn_derm.knowledge import get_knowledge
from ldn_derm.web import presenters
from ldn_derm.web.cds import findings as cds_findings
from ldn_derm.web.cds.services import ServiceDef
from ldn_derm.web.settings import Settings

SUMMARY_MAX = 139  # the spec asks for "<140-character" summaries

# Example override reasons from the HL7 CDS Hooks 3.0 ballot code system (STANDARDS.md §1.6).
OVERRIDE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
OVERRIDE_REASONS = [
    ("cds-not-applicable", "Does not apply to this patient"),
    ("recipient-disagrees-evidence", "I disagree with the evidence"),
    ("does-not-align-preferences", "Patient's informed preference"),
    ("not-convenient-feasible", "Not feasible in this situation"),
]
INDICATOR = {
    "critical": "critical",
    "contraindicated": "critical",
    "blocked": "critical",
    "warning": "warning",
    "caution": "warning",
    "info": "info",
}


def _prefetched(body: dict[str, Any]) -> list[dict[str, Any]]:
    from ldn_derm.web.cds.prefetch import resources_in

    prefetch = body.get("prefetch")
    values = prefetch.values() if isinstance(prefetch, dict) else ()
    return [r for value in values for r in resources_in(value)]


def _draft_bundle(body: dict[str, Any]) -> Any:
    context = body.get("context")
    return context.get("draftOrders") if isinstance(context, dict) else None


def needs_data(service: ServiceDef, body: dict[str, Any]) -> bool:
    """False when the answer is no cards whatever the record says (cheap, before any fetch):
    an order hook whose draft Bundle holds no LDN-type order and no order whose medicine
    cannot be read at all (regimen.orders decides)."""
    if service.hook == "patient-view":
        return True
    from ldn_derm.regimen.orders import read_draft_orders, unresolved_medications

    draft, prefetched = _draft_bundle(body), _prefetched(body)
    orders = read_draft_orders(draft, prefetched)
    if any(o.ldn_type or not o.named for o in orders):  # (an unnamed medicine is said)
        return True
    # a draft naming a Medication we do not hold may be naltrexone: read it when we can
    can_read = isinstance(body.get("fhirServer"), str) and body.get("fhirAuthorization")
    return bool(can_read and unresolved_medications(draft, prefetched))


def advise(
    service: ServiceDef,
    body: dict[str, Any],
    resources: dict[str, list[dict[str, Any]]],
    settings: Settings,
    *,
    partial: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Cards for a hook call. `partial`: prefetch keys of which only part was sent or read
    (`prefetch.gather`); a medicine search among them makes the medicine check incomplete."""
    records = [r for key in resources for r in resources[key]]
    if service.hook == "patient-view":
        findings = cds_findings.cds_patient_view_findings(records)
    else:
        context = body.get("context")
        patient_id = context.get("patientId") if isinstance(context, dict) else None
        findings = cds_findings.cds_order_findings(
            records,
            _draft_bundle(body),
            patient_id if isinstance(patient_id, str) and patient_id else None,
            _incomplete_medicine_kinds(service, resources, partial),
        )
    cards = [render_card(f, settings) for f in findings]
    order = {"critical": 0, "warning": 1, "info": 2}
    cards.sort(key=lambda c: order[c["indicator"]])
    return {"cards": cards}


def _incomplete_medicine_kinds(
    service: ServiceDef, resources: dict[str, list[dict[str, Any]]], partial: Iterable[str]
) -> tuple[str, ...]:
    """The kinds of medicine record not all of which were seen: MedicationStatement when none
    was sent or read (a medicine recorded only there would otherwise go unseen), and the type
    of every medicine search that came back partial (more pages than were sent or read)."""
    kinds: list[str] = [] if "statements" in resources else ["MedicationStatement"]
    for key in partial:
        kind = service.prefetch.get(key, "").split("?", 1)[0].split("/", 1)[0]
        if kind.startswith("Medication") and kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


# Markdown that could make a link, an image, raw HTML, code or a table. The core writes card
# text with emphasis and lists only, never these, but it quotes the record (medication and
# condition names, ids, units), which an EHR or a patient portal may fill with anything.
_MD_ACTIVE = re.compile(r"([\\`\[\]<>|])")
# Bare addresses that a GFM renderer turns into links without any markup (autolink literals):
# a word joiner (U+2060, invisible) after the scheme's colon, in "www." and before "@".
_MD_AUTOLINK = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*:)(?=//)|(\bwww)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def markdown_safe(text: str) -> str:
    """`text` with every Markdown construct that could carry a link, an image, HTML, code or
    a table shown literally (backslash escapes; CommonMark renders `\\[` as `[`)."""
    text = _MD_ACTIVE.sub(r"\\\1", text)
    return _MD_AUTOLINK.sub(lambda m: (m.group(1) or m.group(2) or "") + WORD_JOINER, text)


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


@lru_cache(maxsize=512)
def _reference_line(ref_id: str) -> str:
    ref = get_knowledge().references[ref_id]
    link = presenters.reference_link(ref)
    return f"- {presenters.reference_text(ref)}" + (f" <{link}>" if link else "")


@lru_cache(maxsize=512)
def _source_label_and_link(first_ref: str | None) -> tuple[str, str | None]:
    """The card source's label and link for its first reference (the same for every call)."""
    kb = get_knowledge()
    label = f"ldn-derm (knowledge base {kb.meta.version})"
    if first_ref is None:
        return label, None
    ref = kb.references[first_ref]
    return f"{label}: {ref.short()}", presenters.reference_link(ref)


def render_card(finding: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A card from a finding dict: code, severity, summary, detail, references, and optionally
    `suggestion` ({label, resource}) and `link_path` (a page of the app)."""
    kb = get_knowledge()
    base = settings.public_base_url.rstrip("/")
    refs = [r for r in finding.get("references", []) if r in kb.references]
    # the finding's text quotes the record: escaped; the references below are our own links
    detail = markdown_safe(str(finding.get("detail") or ""))
    if refs:
        detail += "\n\n**References**\n\n" + "\n".join(_reference_line(r) for r in refs)
    label, link = _source_label_and_link(refs[0] if refs else None)
    source: dict[str, Any] = {
        "label": label,
        "url": link or f"{base}/references",
        "topic": {
            "system": f"{base}/cds/topics",
            "code": str(finding.get("code", "ldn")),
            "display": shorten(str(finding.get("topic") or finding.get("code") or "LDN"), 100),
        },
    }
    indicator = INDICATOR.get(str(finding.get("severity", "info")), "info")
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": shorten(str(finding["summary"])),
        "indicator": indicator,
        "detail": detail.strip() or None,
        "source": source,
    }
    if card["detail"] is None:
        del card["detail"]
    suggestion = finding.get("suggestion")
    if suggestion:
        card["suggestions"] = [
            {
                "label": suggestion["label"],
                "uuid": str(uuid.uuid4()),
                "isRecommended": True,
                "actions": [
                    {
                        "type": "update",
                        "description": suggestion.get("description", suggestion["label"]),
                        "resource": suggestion["resource"],
                    }
                ],
            }
        ]
        card["selectionBehavior"] = "at-most-one"
    if indicator != "info":
        card["overrideReasons"] = [
            {"system": OVERRIDE_SYSTEM, "code": code, "display": display}
            for code, display in OVERRIDE_REASONS
        ]
    link_path = finding.get("link_path")
    if link_path:
        label = str(finding.get("link_label") or "Open in ldn-derm")
        card["links"] = [_link(label, base + str(link_path), finding, settings)]
    return card


def _link(label: str, url: str, finding: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A SMART app link (the EHR launches the app with this patient) when a SMART launch URL
    is configured, with the finding's condition as appContext; a plain link otherwise."""
    if not settings.smart_launch_url:
        return {"label": label, "url": url, "type": "absolute"}
    import orjson

    link: dict[str, Any] = {
        "label": "Open the assessment in ldn-derm",
        "url": settings.smart_launch_url,
        "type": "smart",
    }
    condition = finding.get("condition")
    if condition:
        link["appContext"] = orjson.dumps({"condition": condition}).decode()
    return link
