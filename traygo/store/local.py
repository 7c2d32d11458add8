"""A store in a local directory, with the same key layout as the S3 bucket."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from traygo.errors import AlreadyExists, NotFoundError, PreconditionFailed, StoreError
from traygo.store.base import ObjectInfo, Store, check_key, dump_json

_TMP_PREFIX = ".traygo-tmp-"
_LOCK_NAME = ".traygo.lock"


class LocalStore(Store):
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.uri = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.uri}: exists and is not a directory")

    def _path(self, key: str) -> Path:
        return self.root / check_key(self.uri, key)

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(self.uri, key) from None
        except PermissionError:
            raise StoreError(f"{self.uri}: permission denied reading {key}") from None

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write_atomic(self._path(key), data)

    def create_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write_atomic(self._path(key), data, create_only=True)

    def _write_atomic(self, path: Path, data: bytes, create_only: bool = False) -> None:
        # A temp file in the same directory, then rename: readers see the old or the new file.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                if create_only:
                    os.link(tmp, path)  # fails if the name exists: create-only, atomically
                    Path(tmp).unlink()
                else:
                    os.replace(tmp, path)
            except FileExistsError:
                Path(tmp).unlink(missing_ok=True)
                raise AlreadyExists(f"{self.uri}: {path.name} already exists") from None
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except PermissionError:
            raise StoreError(f"{self.uri}: permission denied writing {path}") from None
        except OSError as exc:
            raise StoreError(f"{self.uri}: cannot write {path}: {exc.strerror or exc}") from None

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        data = path.read_bytes()
        return ObjectInfo(key, len(data), _etag(data))

    def list(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return iter(())
        keys = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(_TMP_PREFIX) or name == _LOCK_NAME:
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes | None, str]:
        data = self.get_bytes(key)
        current = _etag(data)
        return (None if current == etag else data), current

    def replace_json(self, key: str, value: Any, if_match: str | None = None) -> str:
        path = self._path(key)
        data = dump_json(value)
        with self._lock():
            if if_match is not None:
                current = self.head(key)
                found = current.etag if current else ""
                if found != if_match:
                    raise PreconditionFailed(f"{self.uri}: {key} changed while being replaced")
            self._write_atomic(path, data)
        return _etag(data)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / _LOCK_NAME, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _etag(data: bytes) -> str:
    # S3's ETag of a single-part upload is the MD5 of its bytes; the local store matches it.
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
