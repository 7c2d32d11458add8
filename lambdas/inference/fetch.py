"""Fetch an image by URL for /predict through the shared guarded fetch (traygo.net).

The address guard, re-vetted redirects and the total deadline live in traygo.net, which the
scraper uses too; this module maps its failures to API statuses and logs the details (hosts,
resolved addresses) that the client must not see.
"""

from __future__ import annotations

import logging

from lambdas.inference.errors import ApiError
from traygo.net import FetchError, FetchLimits, fetch

MAX_REDIRECTS = 3
log = logging.getLogger(__name__)

# (status, what the client should do) by traygo.net's failure code.
_STATUS = {
    "url_refused": (422, "send a public http(s) image URL, or the image itself"),
    "too_many_redirects": (422, f"send the image's final URL (at most {MAX_REDIRECTS} redirects)"),
    "unresolvable": (502, "check the URL's host name, or send the image itself"),
    "http_status": (502, "check that the URL opens the image, or send the image itself"),
    "connection_failed": (502, "try again later, or send the image itself"),
    "wrong_content_type": (415, "send a URL that serves an image/* content type"),
    "too_large": (413, "send a smaller image (at most 6 MB)"),
    "timeout": (504, "try again, or send the image itself"),
}
_CODES = {
    "url_refused": "url_refused",
    "too_many_redirects": "url_refused",
    "wrong_content_type": "unsupported_type",
    "too_large": "too_large",
    "timeout": "fetch_timeout",
}


def fetch_image(
    url: str, max_bytes: int, timeout: float, allow_loopback: bool = False
) -> tuple[bytes, str]:
    """(body, content type) of an image URL within `timeout` seconds in all, or an ApiError.

    `allow_loopback` is the test-only TRAYGO_TEST_ALLOW_LOOPBACK_FETCH setting."""
    limits = FetchLimits(
        max_bytes=max_bytes,
        deadline_s=timeout,
        max_redirects=MAX_REDIRECTS,
        allow_loopback=allow_loopback,
    )
    try:
        fetched = fetch(url, limits)
    except FetchError as exc:
        log.info("url fetch refused: %s (%s)", exc.code, exc.detail or exc.message)
        status, todo = _STATUS.get(exc.code, (502, "send the image itself"))
        raise ApiError(
            status, _CODES.get(exc.code, "fetch_failed"), f"{exc.message}; {todo}"
        ) from None
    return fetched.body, fetched.content_type
