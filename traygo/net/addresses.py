"""Which addresses an untrusted URL may reach: public unicast only (SSRF guard).

Every address a host resolves to is vetted, and the caller connects to the vetted address
itself, so a second DNS answer cannot swap in a private one.
"""

from __future__ import annotations

import ipaddress
import socket

from traygo.net.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_EXTRA_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, not flagged private
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
)


def refusal(address: IPAddress, allow_loopback: bool = False) -> str | None:
    """Why an address may not be fetched from (a kind, e.g. "link-local"), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if allow_loopback and address.is_loopback:
        return None
    for name in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    if any(address in net for net in _EXTRA_BLOCKED) or not address.is_global:
        return "non-public"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (the DNS edge; tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def vetted_address(host: str, port: int, allow_loopback: bool = False) -> str:
    """The address to connect to for `host`, or FetchError("url_refused") before any traffic."""
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise FetchError(
                "unresolvable", "the URL's host name does not resolve", f"host {host!r}"
            ) from None
    if not addresses:
        raise FetchError("unresolvable", "the URL's host has no addresses", f"host {host!r}")
    for text in addresses:
        why = refusal(ipaddress.ip_address(text.split("%")[0]), allow_loopback)
        if why:
            raise FetchError(
                "url_refused",
                f"the URL's host resolves to a {why} address; only public addresses are fetched",
                f"{host} -> {text}",
            )
    return addresses[0]
