"""Record text in card Markdown is shown, never live: no link, image, HTML, code or table.

Each card's `detail` is rendered with markdown-it-py (CommonMark with raw HTML on, plus the GFM
table, strikethrough and autolink-literal extensions, as a permissive EHR renderer such
as react-markdown with remark-gfm would) and
the tokens are inspected: the only links are the knowledge base's reference links.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from markdown_it.token import Token
from web_helpers import hook_request, naltrexone_order

from ldn_derm.knowledge import get_knowledge
from ldn_derm.web import presenters
from ldn_derm.web.cds.cards import WORD_JOINER, markdown_safe

PATIENT = "p1"

HOSTILE = [
    "Oxycodone [click](javascript:alert(1))",
    "Tramadol <img src=x onerror=alert(1)>",
    "Pill [x](javascript:alert(document.cookie) 'title')",
    "Drug `rm -rf` ``double`` code",
    "A | B | C\n|---|---|---|\n| 1 | 2 | 3",
    "![img](https://evil.example/x.png)",
    "<script>alert(1)</script> syrup",
    "See https://evil.example/phish or www.evil.example or help@evil.example",
    "Tablet <https://evil.example> autolink",
    "Escaped \\[x\\](javascript:alert(1)) backslashes",
    "&lt;img src=x onerror=alert(1)&gt; entities",
    "<a href='javascript:alert(1)'>name</a>",
]


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": True})
    md.enable(["table", "strikethrough", "linkify"])
    # GFM autolink literals: www., scheme://, e-mail; not bare domains ("example.org")
    md.linkify.set({"fuzzy_link": False})
    return md


def _tokens(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out += _tokens(token.children or [])
    return out


def _allowed_links() -> set[str]:
    kb = get_knowledge()
    return {link for ref in kb.references.values() if (link := presenters.reference_link(ref))}


def _assert_inert(detail: str, links: bool = True) -> None:
    md = _renderer()
    allowed = _allowed_links() if links else set()
    for token in _tokens(md.parse(detail)):
        assert token.type not in {
            "html_inline",
            "html_block",
            "image",
            "code_inline",
            "code_block",
            "fence",
            "table_open",
        }, (token.type, token.content, detail)
        if token.type == "link_open":
            href = str(token.attrGet("href"))
            assert href in allowed or (links and "javascript" not in href), (href, detail)
    html = md.render(detail)
    for live in ("<img", "<script", "<b>", "<a href='", 'href="javascript', "<table", "<code"):
        assert live not in html, (live, html)


def _record(name: str, index: int) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"m{index}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "medicationCodeableConcept": {"text": name},
    }


def _prefetch(names: list[str]) -> dict[str, Any]:
    condition = {
        "resourceType": "Condition",
        # the id is quoted in the evidence card ("on the problem list (Condition/...)")
        "id": "c1 `x` [a](javascript:alert(1)) <b>",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "9014002"}],
            "text": "Psoriasis <img src=x onerror=alert(1)> [x](javascript:alert(1))",
        },
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    return {
        "patient": {"resourceType": "Patient", "id": PATIENT, "birthDate": "1980-01-01"},
        "conditions": {"resourceType": "Bundle", "entry": [{"resource": condition}]},
        "medications": {
            "resourceType": "Bundle",
            "entry": [{"resource": _record(n, i)} for i, n in enumerate(names)],
        },
        "statements": None,
    }


@pytest.mark.parametrize("hook", ["order-sign", "patient-view"])
def test_hostile_record_text_is_inert_in_every_card(dev_client: TestClient, hook: str) -> None:
    draft = [naltrexone_order(PATIENT, text="Naltrexone 50 mg [x](javascript:alert(1))")]
    orders = draft if hook != "patient-view" else None
    body = hook_request(hook, PATIENT, _prefetch(HOSTILE), orders)
    response = dev_client.post(f"/cds-services/ldn-{hook}", json=body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    details = [c["detail"] for c in cards if "detail" in c]
    assert details
    quoted = "\n".join(details)
    # the record text is there to read (the unchecked-medicine card names each medicine) ...
    if hook == "order-sign":  # the opioid card names the opioids
        assert "Tramadol \\<img src=x onerror=alert(1)\\>" in quoted
    if hook == "patient-view":  # the evidence card names the Condition it matched
        assert "c1 \\`x\\` \\[a\\](javascript:alert(1)) \\<b\\>" in quoted
    # ... and nothing of it is live
    for detail in details:
        # the finding's own text (which quotes the record) has no link at all; the references
        # block after it is the knowledge base's, with its own links
        text, _, references = detail.partition("\n\n**References**\n\n")
        _assert_inert(text, links=False)
        _assert_inert(references)


@pytest.mark.parametrize("name", HOSTILE)
def test_markdown_safe_text_renders_as_the_same_words(name: str) -> None:
    md = _renderer()
    safe = markdown_safe(name)
    _assert_inert(safe)
    rendered = "".join(t.content for t in _tokens(md.parse(safe)) if t.type == "text").replace(
        WORD_JOINER, ""
    )
    # what the reader sees is the name itself (line breaks and entities aside)
    for word in name.replace("\n", " ").split():
        if "&" in word or "\\" in word:
            continue
        assert word in rendered.replace("\n", " ") or word.strip("|-") == "", (word, rendered)


def test_the_core_text_keeps_its_own_emphasis_and_lists(dev_client: TestClient) -> None:
    body = hook_request("order-sign", PATIENT, _prefetch([]), [naltrexone_order(PATIENT)])
    cards = dev_client.post("/cds-services/ldn-order-sign", json=body).json()["cards"]
    plan = next(c for c in cards if c["indicator"] == "info")
    tokens = [t.type for t in _tokens(_renderer().parse(plan["detail"]))]
    assert "strong_open" in tokens and "bullet_list_open" in tokens
    assert "link_open" in tokens  # the references
