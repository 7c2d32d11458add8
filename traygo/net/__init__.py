"""Outbound HTTP for untrusted URLs: vetted addresses, redirects re-vetted, a total deadline."""

from traygo.net.addresses import ALLOW_LOOPBACK_ENV, loopback_allowed_for_tests
from traygo.net.errors import FetchError
from traygo.net.fetch import Fetched, FetchLimits, fetch

__all__ = [
    "ALLOW_LOOPBACK_ENV",
    "FetchError",
    "FetchLimits",
    "Fetched",
    "fetch",
    "loopback_allowed_for_tests",
]
