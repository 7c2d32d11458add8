"""Fetch an image by URL without letting the URL reach inside our network (SSRF).

Every address the host resolves to is vetted, then the connection goes to that vetted address
(so a second DNS answer cannot swap in a private one), with the original name kept for the
Host header and TLS. Redirects are followed by hand so each hop is vetted again.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from urllib.parse import urljoin

import urllib3
from urllib3.util import parse_url

from lambdas.inference.errors import ApiError

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 3.0
_REDIRECTS = {301, 302, 303, 307, 308}
_EXTRA_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, not flagged private
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
)
# Test-only: lets the suite fetch from its own 127.0.0.1 server. Never set it in a deployment.
ALLOW_LOOPBACK_ENV = "TRAYGO_TEST_ALLOW_LOOPBACK_FETCH"


def refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address may not be fetched from, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback and os.environ.get(ALLOW_LOOPBACK_ENV) == "1":
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
    return list(dict.fromkeys(info[4][0] for info in infos))


def vetted_address(host: str, port: int) -> str:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [str(literal)]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (socket.gaierror, UnicodeError):
            raise ApiError(502, "fetch_failed", f"cannot resolve host {host!r}") from None
    for text in addresses:
        why = refused(ipaddress.ip_address(text.split("%")[0]))
        if why:
            raise ApiError(422, "url_refused", f"{host} resolves to a {why} address ({text})")
    if not addresses:
        raise ApiError(502, "fetch_failed", f"host {host!r} has no addresses")
    return addresses[0]


def fetch_image(url: str, max_bytes: int, timeout: float) -> tuple[bytes, str]:
    """(body, content type) of an image URL, or an ApiError saying why not."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        response = _get(url, deadline)
        if response.status in _REDIRECTS:
            location = response.headers.get("Location")
            response.release_conn()
            if not location:
                raise ApiError(502, "fetch_failed", f"{url} redirects nowhere")
            url = urljoin(url, location)
            continue
        return _read(url, response, max_bytes, deadline)
    raise ApiError(422, "url_refused", f"more than {MAX_REDIRECTS} redirects")


def _get(url: str, deadline: float) -> urllib3.BaseHTTPResponse:
    try:
        parts = parse_url(url)
    except ValueError:
        raise ApiError(422, "url_refused", "the url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ApiError(422, "url_refused", "only http and https URLs can be fetched")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = vetted_address(parts.host, port)
    remaining = max(0.1, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, remaining), read=remaining)
    pool_args = {"timeout": timeout, "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=parts.host,
            assert_hostname=parts.host,
            cert_reqs="CERT_REQUIRED",
            **pool_args,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **pool_args)
    host_header = parts.host if parts.port is None else f"{parts.host}:{parts.port}"
    try:
        return pool.urlopen(
            "GET",
            parts.request_uri,
            headers={"Host": host_header, "User-Agent": "traygo/1", "Accept": "image/*"},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
    except urllib3.exceptions.TimeoutError:
        raise ApiError(504, "fetch_timeout", f"{parts.host} did not answer in time") from None
    except urllib3.exceptions.HTTPError as exc:
        raise ApiError(
            502, "fetch_failed", f"cannot fetch from {parts.host}: {_short(exc)}"
        ) from None


def _read(
    url: str, response: urllib3.BaseHTTPResponse, max_bytes: int, deadline: float
) -> tuple[bytes, str]:
    try:
        if response.status != 200:
            raise ApiError(502, "fetch_failed", f"the image URL answered HTTP {response.status}")
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not content_type.startswith("image/"):
            raise ApiError(
                415,
                "unsupported_type",
                f"the URL's content type is {content_type or 'missing'}, not image/*",
            )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ApiError(413, "too_large", f"the image is larger than {max_bytes} bytes")
        body = bytearray()
        for chunk in response.stream(64 * 1024):
            body += chunk
            if len(body) > max_bytes:
                raise ApiError(413, "too_large", f"the image is larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise ApiError(504, "fetch_timeout", "the image took too long to download")
        return bytes(body), content_type
    except urllib3.exceptions.TimeoutError:
        raise ApiError(504, "fetch_timeout", "the image took too long to download") from None
    except urllib3.exceptions.HTTPError as exc:
        raise ApiError(502, "fetch_failed", f"download failed: {_short(exc)}") from None
    finally:
        response.release_conn()


def _short(exc: Exception) -> str:
    return str(exc).split(": ")[-1][:200]
