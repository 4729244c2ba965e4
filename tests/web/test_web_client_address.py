"""The client address: X-Forwarded-For is believed only from a configured trusted proxy."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.errors import InputError
from ldn_derm.web.client_address import client_address
from ldn_derm.web.settings import load_settings

PROXIES = ("10.0.0.0/8", "2001:db8:1::/48")


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        # no trusted proxies (the default): the header is ignored
        ("203.0.113.9", ["198.51.100.1"], (), "203.0.113.9"),
        ("127.0.0.1", ["198.51.100.1"], (), "127.0.0.1"),
        # an untrusted peer cannot choose its address
        ("203.0.113.9", ["198.51.100.1"], PROXIES, "203.0.113.9"),
        # a trusted proxy: the rightmost address that is not a trusted proxy
        ("10.0.0.2", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.7"], PROXIES, "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], PROXIES, "198.51.100.1"),
        # a trusted proxy without the header, or with only proxies in it
        ("10.0.0.2", [], PROXIES, "10.0.0.2"),
        ("10.0.0.2", ["10.1.1.1"], PROXIES, "10.1.1.1"),
        # garbage in the header: stop at the last address we could read
        ("10.0.0.2", ["<script>, 10.0.0.9"], PROXIES, "10.0.0.9"),
        ("10.0.0.2", ["not-an-ip"], PROXIES, "10.0.0.2"),
        # ports and IPv6 forms
        ("10.0.0.2", ["198.51.100.1:4711"], PROXIES, "198.51.100.1"),
        ("2001:db8:1::5", ["[2001:db8:2::1]:443"], PROXIES, "2001:db8:2::1"),
        ("::ffff:10.0.0.2", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        # no peer at all
        (None, ["198.51.100.1"], PROXIES, "unknown"),
    ],
)
def test_client_address(
    peer: str | None, xff: list[str], trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(peer, xff, trusted) == expected


@given(
    peer=st.ip_addresses(v=4).filter(lambda a: a not in ipaddress.ip_network("10.0.0.0/8")),
    forwarded=st.lists(st.text(max_size=40), max_size=4),
)
def test_an_untrusted_peer_is_always_its_own_address(
    peer: ipaddress.IPv4Address, forwarded: list[str]
) -> None:
    assert client_address(str(peer), forwarded, PROXIES) == str(peer)


@given(forwarded=st.lists(st.text(max_size=60), max_size=4))
def test_behind_a_trusted_proxy_the_answer_is_an_address(forwarded: list[str]) -> None:
    ipaddress.ip_address(client_address("10.0.0.2", forwarded, PROXIES))


def test_the_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDN_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")
    assert load_settings().trusted_proxies == ("10.0.0.0/8", "192.0.2.7")
    monkeypatch.setenv("LDN_TRUSTED_PROXIES", "10.0.0.0/8, the-load-balancer")
    with pytest.raises(InputError, match="trusted_proxies: 'the-load-balancer'"):
        load_settings()
