"""Fetch result images: http(s) with retries, timeouts and a byte cap; `data:` URIs decoded.

Every failure becomes a reason string, counted by the job; none of them raises.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

MAX_BYTES = 15 * 1024 * 1024
PER_HOST = 4  # concurrent downloads per host, to stay polite


@dataclass(frozen=True)
class Fetched:
    data: bytes | None
    reason: str | None = None  # why there is no data


class Downloader:
    def __init__(
        self,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        max_bytes: int = MAX_BYTES,
        retries: int = 2,
        backoff: float = 0.3,
        pool_size: int = 16,
    ) -> None:
        self.timeout = (connect_timeout, read_timeout)
        self.max_bytes = max_bytes
        self.session = requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            redirect=5,
            backoff_factor=backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "Mozilla/5.0 (compatible; traygo-scraper/1)"
        self.session.headers["Accept"] = "image/avif,image/webp,image/*,*/*;q=0.5"
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
            with self.session.get(url, timeout=self.timeout, stream=True) as response:
                if response.status_code != 200:
                    return Fetched(None, f"http_{response.status_code}")
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if kind and not (kind.startswith("image/") or kind == "application/octet-stream"):
                    return Fetched(None, "wrong_content_type")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    return Fetched(None, "too_large")
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > self.max_bytes:
                        return Fetched(None, "too_large")
                return Fetched(bytes(body))
        except requests.exceptions.TooManyRedirects:
            return Fetched(None, "redirect_loop")
        except requests.exceptions.RetryError as exc:
            return Fetched(
                None, "redirect_loop" if "redirect" in str(exc).lower() else "retries_exhausted"
            )
        except requests.exceptions.Timeout:
            return Fetched(None, "timeout")
        except requests.exceptions.ConnectionError as exc:
            reason = str(exc).lower()
            if "timed out" in reason or "timeout" in reason:
                return Fetched(None, "timeout")
            if "redirect" in reason:
                return Fetched(None, "redirect_loop")
            return Fetched(None, "connection_error")
        except requests.exceptions.RequestException:
            return Fetched(None, "request_error")

    def close(self) -> None:
        self.session.close()


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
