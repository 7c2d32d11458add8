"""Fetch result images: guarded http(s) with retries, a total deadline and a byte cap;
`data:` URIs decoded.

Every failure becomes a reason string, counted by the job; none of them raises.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from traygo.net import FetchError, FetchLimits, fetch

MAX_BYTES = 15 * 1024 * 1024
PER_HOST = 4  # concurrent downloads per host, to stay polite
# traygo.net's failure codes under the names the job's counts have always used.
_REASONS = {
    "too_many_redirects": "redirect_loop",
    "connection_failed": "connection_error",
    "unresolvable": "connection_error",
}


def _image_or_unlabelled(content_type: str) -> bool:
    return (
        not content_type
        or content_type.startswith("image/")
        or content_type == ("application/octet-stream")
    )


@dataclass(frozen=True)
class Fetched:
    data: bytes | None
    reason: str | None = None  # why there is no data


class Downloader:
    """Every http(s) GET goes through traygo.net's guarded fetch: public addresses only (a
    result pointing at 169.254.169.254 or 10.x is refused before connecting), redirects
    re-vetted, one total deadline per image (connect_timeout + read_timeout unless given)."""

    def __init__(
        self,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        max_bytes: int = MAX_BYTES,
        retries: int = 2,
        backoff: float = 0.3,
        pool_size: int = 16,  # kept for callers: each fetch connects to its vetted address
        deadline: float | None = None,
        allow_loopback: bool = False,  # tests only: TRAYGO_TEST_ALLOW_LOOPBACK_FETCH
    ) -> None:
        self.max_bytes = max_bytes
        self.limits = FetchLimits(
            max_bytes=max_bytes,
            deadline_s=deadline or connect_timeout + read_timeout,
            connect_timeout_s=connect_timeout,
            max_redirects=5,
            retries=retries,
            backoff_s=backoff,
            allow_loopback=allow_loopback,
            accept_type=_image_or_unlabelled,
            user_agent="Mozilla/5.0 (compatible; traygo-scraper/1)",
        )
        self._hosts: dict[str, threading.Semaphore] = defaultdict(
            lambda: threading.Semaphore(PER_HOST)
        )
        self._lock = threading.Lock()

    def fetch(self, url: str) -> Fetched:
        if url.startswith("data:"):
            return decode_data_uri(url, self.max_bytes)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return Fetched(None, "unsupported_url")
        with self._lock:
            gate = self._hosts[parts.hostname]
        with gate:
            return self._get(url)

    def _get(self, url: str) -> Fetched:
        try:
            return Fetched(fetch(url, self.limits).body)
        except FetchError as exc:
            if exc.code == "http_status":
                return Fetched(None, f"http_{exc.status}")
            return Fetched(None, _REASONS.get(exc.code, exc.code))

    def close(self) -> None:
        pass  # no pooled connections to release: each fetch closes its own


def decode_data_uri(uri: str, max_bytes: int = MAX_BYTES) -> Fetched:
    """`data:[<type>][;base64],<payload>` → bytes."""
    header, sep, payload = uri.partition(",")
    if not sep:
        return Fetched(None, "bad_data_uri")
    if len(payload) > max_bytes * 4 // 3 + 4:
        return Fetched(None, "too_large")
    try:
        if header.endswith(";base64"):
            data = base64.b64decode(payload, validate=False)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return Fetched(None, "bad_data_uri")
    return Fetched(data) if data else Fetched(None, "bad_data_uri")
