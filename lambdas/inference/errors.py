"""Client-facing errors: each carries its HTTP status, a stable code and a message that says
what to do. Details that would leak (store paths, buckets, addresses) go to the logs only."""

from __future__ import annotations

from traygo.errors import ImageError

# Image problems by the status the design gives them: the body is not a usable image (400),
# the format is not served (415), or it is too large to decode safely (413).
IMAGE_STATUS = {
    "empty": 400,
    "not_an_image": 400,
    "truncated": 400,
    "corrupt": 400,
    "too_small": 400,
    "unsupported_format": 415,
    "too_many_pixels": 413,
    "too_large_to_decode": 413,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self, request_id: str | None = None) -> dict[str, dict[str, str | None]]:
        return error_body(self.code, self.message, request_id)


def error_body(code: str, message: str, request_id: str | None) -> dict[str, dict[str, str | None]]:
    """The one shape of every error answer; the request id finds its log lines."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def from_image_error(exc: ImageError) -> ApiError:
    return ApiError(IMAGE_STATUS.get(exc.code, 400), exc.code, str(exc))
