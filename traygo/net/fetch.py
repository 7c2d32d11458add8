"""GET an untrusted URL: vetted address, re-vetted redirects, a byte cap, a total deadline.

Used by the inference API (URL requests) and the scraper (result images). The connection goes
to the vetted address with the URL's host name kept for the Host header and TLS.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util import Url, parse_url

from traygo.net.addresses import vetted_address
from traygo.net.deadline import Deadline, Watchdog, watchdog
from traygo.net.errors import FetchError

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUSES = {429, 500, 502, 503, 504}
_CHUNK = 64 * 1024


def is_image_type(content_type: str) -> bool:
    return content_type.startswith("image/")


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    deadline_s: float  # connect + headers + body, every redirect and retry included
    connect_timeout_s: float = 3.0
    max_redirects: int = 3
    retries: int = 0  # for 429/5xx and failed connections, within the deadline
    backoff_s: float = 0.0
    allow_loopback: bool = False  # tests only: TRAYGO_TEST_ALLOW_LOOPBACK_FETCH
    accept_type: Callable[[str], bool] = is_image_type
    user_agent: str = "traygo/1"


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str
    url: str  # after redirects


def fetch(url: str, limits: FetchLimits) -> Fetched:
    """The body of `url`, or a FetchError saying why not."""
    deadline = Deadline(limits.deadline_s)
    attempt = 0
    while True:
        try:
            return _follow(url, limits, deadline)
        except FetchError as exc:
            retryable = exc.code == "connection_failed" or exc.status in _RETRY_STATUSES
            if not retryable or attempt >= limits.retries or deadline.expired():
                raise
        time.sleep(min(limits.backoff_s * 2**attempt, deadline.remaining()))
        attempt += 1


def _follow(url: str, limits: FetchLimits, deadline: Deadline) -> Fetched:
    for _ in range(limits.max_redirects + 1):
        parts = _parse(url)
        with _exchange(parts, limits, deadline) as (response, dog):
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(
                        "http_status", "the URL redirects nowhere", url, response.status
                    )
                url = urljoin(url, location)
                continue
            return Fetched(_read(response, limits, dog), _content_type(response), url)
    raise FetchError(
        "too_many_redirects", f"the URL redirects more than {limits.max_redirects} times"
    )


def _parse(url: str) -> Url:
    try:
        parts = parse_url(url)
    except ValueError:
        raise FetchError("url_refused", "the url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise FetchError("url_refused", "only http and https URLs can be fetched")
    return parts


@contextmanager
def _exchange(
    parts: Url, limits: FetchLimits, deadline: Deadline
) -> Iterator[tuple[urllib3.BaseHTTPResponse, Watchdog]]:
    """Connect to the vetted address and send the GET; the response, cut at the deadline."""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = vetted_address(str(parts.host), port, limits.allow_loopback)
    conn = _connection(parts, address, port, min(limits.connect_timeout_s, deadline.remaining()))
    with watchdog(deadline, lambda: conn.sock) as dog:
        try:
            conn.connect()
            conn.sock.settimeout(max(0.01, deadline.remaining()))
            host = parts.host if parts.port is None else f"{parts.host}:{parts.port}"
            headers = {
                "Host": str(host),
                "User-Agent": limits.user_agent,
                "Accept": "image/*",
                "Accept-Encoding": "identity",  # a compressed body could expand past the cap
            }
            conn.request(
                "GET",
                parts.request_uri,
                headers=headers,
                preload_content=False,
                decode_content=False,
            )
            response = conn.getresponse()
            if dog.fired:  # cut inside the headers: what arrived is not an answer
                raise _timeout()
            yield response, dog
        except FetchError:
            raise
        except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
            raise _failure(exc, dog, str(parts.host)) from None
        finally:
            conn.close()


def _connection(parts: Url, address: str, port: int, timeout: float) -> HTTPConnection:
    if parts.scheme == "https":
        return HTTPSConnection(
            address,
            port,
            timeout=timeout,
            server_hostname=parts.host,
            assert_hostname=parts.host,
            cert_reqs="CERT_REQUIRED",
        )
    return HTTPConnection(address, port, timeout=timeout)


def _read(response: urllib3.BaseHTTPResponse, limits: FetchLimits, dog: Watchdog) -> bytes:
    if response.status != 200:
        raise FetchError(
            "http_status", f"the URL answered HTTP {response.status}", status=response.status
        )
    content_type = _content_type(response)
    if not limits.accept_type(content_type):
        raise FetchError(
            "wrong_content_type", f"the URL's content type is {content_type or 'missing'}"
        )
    too_large = FetchError("too_large", f"the image is larger than {limits.max_bytes} bytes")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_large
    body = bytearray()
    while chunk := response.read(_CHUNK):
        body += chunk
        if len(body) > limits.max_bytes:
            raise too_large
    if dog.fired:  # the watchdog's cut reads as a clean end of an unsized body
        raise _timeout()
    return bytes(body)


def _content_type(response: urllib3.BaseHTTPResponse) -> str:
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _failure(exc: Exception, dog: Watchdog, host: str) -> FetchError:
    if dog.fired or isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
        return _timeout()
    return FetchError("connection_failed", "the image host could not be reached", f"{host}: {exc}")


def _timeout() -> FetchError:
    return FetchError("timeout", "the image URL did not answer in time")
