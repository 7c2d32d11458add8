"""Errors a user can act on. Each message is one line that names the thing and what to do."""

from __future__ import annotations


class TraygoError(Exception):
    """An error the CLI prints as one line (no traceback) before exiting non-zero."""

    exit_code = 1


class ConfigError(TraygoError):
    """A setting, flag or config file is wrong."""

    exit_code = 2


class StoreError(TraygoError):
    """The store could not be reached or refused the operation."""


class NotFoundError(StoreError):
    """A key does not exist in the store."""

    def __init__(self, uri: str, key: str) -> None:
        super().__init__(f"{uri}: no object at {key!r}")
        self.uri = uri
        self.key = key


class PreconditionFailed(StoreError):
    """A conditional write lost a race: the object changed since it was read."""


class AlreadyExists(PreconditionFailed):
    """A create-only write found the key taken."""


class RegistryError(TraygoError):
    """The model registry holds something it cannot use (corrupt pointer, unknown version)."""


class ImageError(TraygoError):
    """Bytes that are not a usable image. `code` says why, for counting and for HTTP mapping."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
