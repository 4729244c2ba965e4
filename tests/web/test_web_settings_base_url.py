"""public_base_url follows the host and port being served unless it is configured, so CDS
card links and JWT audiences name the server that answers (not a fixed port 8000)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldn_derm.web.settings import load_settings, served_base_url


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("localhost", 9000, "http://localhost:9000"),
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
        ("::1", 8443, "http://[::1]:8443"),
        ("::", 8000, "http://127.0.0.1:8000"),
    ],
)
def test_served_base_url(host: str, port: int, expected: str) -> None:
    assert served_base_url(host, port) == expected


def test_the_base_url_follows_the_served_port_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LDN_PUBLIC_BASE_URL", "LDN_PORT", "LDN_HOST", "LDN_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LDN_PORT", "8765")
    assert load_settings(data_dir=tmp_path).public_base_url == "http://127.0.0.1:8765"
    monkeypatch.setenv("LDN_PUBLIC_BASE_URL", "https://ldn.example.org")
    assert load_settings(data_dir=tmp_path).public_base_url == "https://ldn.example.org"


def test_card_links_use_the_served_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ldn_derm.web.cds.cards import render_card

    for name in ("LDN_PUBLIC_BASE_URL", "LDN_SMART_LAUNCH_URL", "LDN_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=tmp_path, port=8765)
    card = render_card(
        {
            "code": "ldn-evidence-psoriasis",
            "severity": "info",
            "summary": "s",
            "link_path": "/evidence/psoriasis",
            "condition": "psoriasis",
            "references": [],
        },
        settings,
    )
    assert card["links"][0]["url"] == "http://127.0.0.1:8765/evidence/psoriasis"
