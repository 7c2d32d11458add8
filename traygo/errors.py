"""The one error family. Every error a user can act on is a TraygoError: a stable `code`
(for HTTP mapping, job counters and logs), a one-line `message` that names the thing, an
optional `hint` that says what to do, and the `exit_code` the CLI exits with. Subclasses set
the defaults; each entry point maps the family once (API: lambdas/inference/api.py, CLI:
traygo/cli.py main(), jobs: skipped counters keyed by `code`)."""

from __future__ import annotations


class TraygoError(Exception):
    """An error the CLI prints as one line (no traceback) before exiting non-zero."""

    code = "error"
    exit_code = 1
    hint: str | None = None

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        hint: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Instance values shadow the class defaults only when given, so subclasses keep theirs.
        if code is not None:
            self.code = code
        if hint is not None:
            self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(TraygoError):
    """A setting, flag or config file is wrong."""

    code = "config_invalid"
    exit_code = 2


class StoreError(TraygoError):
    """The store could not be reached or refused the operation."""

    code = "store_unavailable"


class NotFoundError(StoreError):
    """A key does not exist in the store."""

    code = "not_found"

    def __init__(self, uri: str, key: str) -> None:
        super().__init__(f"{uri}: no object at {key!r}")
        self.uri = uri
        self.key = key


class PreconditionFailed(StoreError):
    """A conditional write lost a race: the object changed since it was read."""

    code = "precondition_failed"


class AlreadyExists(PreconditionFailed):
    """A create-only write found the key taken."""

    code = "already_exists"


class RegistryError(TraygoError):
    """The model registry holds something it cannot use (corrupt pointer, unknown version)."""

    code = "registry_invalid"


class ImageError(TraygoError):
    """Bytes that are not a usable image. `code` says why, for counting and for HTTP mapping."""

    code = "not_an_image"

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, code=code, hint=hint)


class BackboneError(TraygoError):
    """The backbone cannot be imported or does not compute what the checkpoint says."""

    code = "backbone_invalid"


class ParityError(TraygoError):
    """An exported model disagrees with Keras; nothing is published."""

    code = "parity_failed"
