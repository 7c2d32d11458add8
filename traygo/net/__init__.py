"""Outbound HTTP for untrusted URLs: vetted addresses, redirects re-vetted, a total deadline."""

from traygo.net.errors import FetchError
from traygo.net.fetch import Fetched, FetchLimits, fetch

__all__ = ["FetchError", "FetchLimits", "Fetched", "fetch"]
