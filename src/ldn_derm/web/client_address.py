"""The client's address: the TCP peer, or `X-Forwarded-For` only behind a trusted proxy.

`X-Forwarded-For` is written by whoever sends the request, so it is believed only when the TCP
peer is one of the configured `trusted_proxies` (addresses or networks, e.g. the load balancer
in front of the app). Then the header is read from the right — each trusted proxy appends the
address it received the request from — and the first address that is not itself a trusted
proxy is the client. With no trusted proxies configured (the default) the header is ignored
and the peer address is the client, so a client cannot choose the address that the login
limits count and the audit log records.

`ldn serve` runs uvicorn with its own proxy-header handling off (uvicorn would otherwise trust
`X-Forwarded-For` from 127.0.0.1); this module is the only place that reads the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks; ValueError naming the first one that is neither."""
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value[:100]!r} is not an IP address or network") from None
    return tuple(out)


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]
) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: tuple[str, ...]
) -> str:
    """The client's address for a request from `peer` carrying these X-Forwarded-For values."""
    if not peer:
        return "unknown"
    networks = _networks(trusted_proxies)
    peer_address = _address(peer)
    if not networks or peer_address is None or not _trusted(peer_address, networks):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    client = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # not an address: stop at the last hop we could read
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
