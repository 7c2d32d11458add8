"""Why an outbound fetch gave nothing: a stable code, a message safe to show the client, and
a detail (hosts, addresses) for the logs only."""

from __future__ import annotations

from traygo.errors import TraygoError

# Codes: url_refused, unresolvable, too_many_redirects, http_status, wrong_content_type,
# too_large, timeout, connection_failed.


class FetchError(TraygoError):
    code = "fetch_failed"

    def __init__(
        self, code: str, message: str, detail: str = "", status: int | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.detail = detail  # never sent to a client: may name resolved addresses
        self.status = status  # the remote's HTTP status, for code "http_status"
