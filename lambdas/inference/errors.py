"""Client-facing errors: the traygo error family mapped to HTTP. ApiError carries its own
status; any other TraygoError gets its status from STATUS by its code. Codes not in STATUS
have messages that may leak (store paths, buckets, addresses): those go to the logs only, and
the client gets a generic 503."""

from __future__ import annotations

from traygo.errors import ImageError, TraygoError

# Codes of the family whose messages are safe to show, by the status the design gives them:
# the body is not a usable image (400), the format is not served (415), or it is too large to
# decode safely (413).
STATUS = {
    "empty": 400,
    "not_an_image": 400,
    "truncated": 400,
    "corrupt": 400,
    "too_small": 400,
    "unsupported_format": 415,
    "too_many_pixels": 413,
    "too_large_to_decode": 413,
}
UNAVAILABLE = ("unavailable", "the model store is unavailable; try again later")

ErrorBody = dict[str, dict[str, str | None]]


class ApiError(TraygoError):
    """A refusal already phrased for the client, with its HTTP status."""

    code = "bad_request"

    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, code=code, hint=hint)
        self.status = status

    def body(self, request_id: str | None = None) -> ErrorBody:
        return error_body(self.code, self.message, request_id, hint=self.hint)


def error_body(
    code: str, message: str, request_id: str | None, *, hint: str | None = None
) -> ErrorBody:
    """The one shape of every error answer; the request id finds its log lines."""
    error: dict[str, str | None] = {"code": code, "message": message}
    if hint:
        error["hint"] = hint
    error["request_id"] = request_id
    return {"error": error}


def to_api_error(exc: TraygoError) -> ApiError:
    """The client's view of any error of the family."""
    if isinstance(exc, ApiError):
        return exc
    if exc.code in STATUS or isinstance(exc, ImageError):  # image messages name no paths
        return ApiError(STATUS.get(exc.code, 400), exc.code, exc.message, hint=exc.hint)
    return ApiError(503, *UNAVAILABLE)


def from_image_error(exc: ImageError) -> ApiError:
    return to_api_error(exc)
