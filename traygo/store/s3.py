"""A store in an S3 bucket (or any S3-compatible endpoint named by AWS_ENDPOINT_URL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypedDict

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from traygo.errors import AlreadyExists, NotFoundError, PreconditionFailed, StoreError
from traygo.store.base import ObjectInfo, Store, check_key, dump_json

if TYPE_CHECKING:  # the stubs are a dev dependency; the Lambda bundle has none
    from types_boto3_s3 import S3Client

_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
_local = threading.local()


# The optional request arguments this store sends, typed so the S3 stubs can check them.
class _GetExtra(TypedDict, total=False):
    IfNoneMatch: str


class _Conditions(_GetExtra, total=False):
    IfMatch: str


class _PutExtra(_Conditions, total=False):
    ContentType: str


def _client() -> S3Client:
    # boto3 clients are thread-safe but sessions are not; one client per thread is cheap enough.
    client = getattr(_local, "client", None)
    if client is None:
        client = boto3.session.Session().client("s3", config=_CLIENT_CONFIG)
        _local.client = client
    return client


class S3Store(Store):
    def __init__(self, bucket: str, prefix: str = "") -> None:
        if not bucket:
            raise StoreError("s3:// store needs a bucket name: s3://bucket[/prefix]")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}" + (f"/{self.prefix}" if self.prefix else "")

    @classmethod
    def from_uri(cls, uri: str) -> S3Store:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return cls(bucket, prefix)

    def _key(self, key: str) -> str:
        check_key(self.uri, key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _strip(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def get_bytes(self, key: str) -> bytes:
        try:
            return _client().get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:  # noqa: BLE001 - mapped to one clear error below
            self._raise(exc, "reading", key)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._put(key, data, content_type, create_only=False)

    def create_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._put(key, data, content_type, create_only=True)

    def _put(self, key: str, data: bytes, content_type: str | None, create_only: bool) -> None:
        extra: _PutExtra = {"ContentType": content_type} if content_type else {}
        if create_only:
            extra["IfNoneMatch"] = "*"
        try:
            _client().put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        except ClientError as exc:
            if create_only and _code(exc) in ("412", "PreconditionFailed"):
                raise AlreadyExists(f"{self.url(key)} already exists") from None
            self._raise(exc, "writing", key)
        except Exception as exc:  # noqa: BLE001
            self._raise(exc, "writing", key)

    def head(self, key: str) -> ObjectInfo | None:
        try:
            meta = _client().head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            self._raise(exc, "reading", key)
        except Exception as exc:  # noqa: BLE001
            self._raise(exc, "reading", key)
        return ObjectInfo(key, int(meta["ContentLength"]), meta["ETag"])

    def list(self, prefix: str = "") -> Iterator[str]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        paginator = _client().get_paginator("list_objects_v2")
        try:
            keys = [
                self._strip(obj["Key"])
                for page in paginator.paginate(Bucket=self.bucket, Prefix=full)
                for obj in page.get("Contents", [])
            ]
        except Exception as exc:  # noqa: BLE001
            self._raise(exc, "listing", prefix or "/")
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        try:
            _client().delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:  # noqa: BLE001
            self._raise(exc, "deleting", key)

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes | None, str]:
        extra: _GetExtra = {"IfNoneMatch": etag} if etag else {}
        try:
            obj = _client().get_object(Bucket=self.bucket, Key=self._key(key), **extra)
        except ClientError as exc:
            if _code(exc) in ("304", "NotModified") and etag:
                return None, etag
            self._raise(exc, "reading", key)
        except Exception as exc:  # noqa: BLE001
            self._raise(exc, "reading", key)
        return obj["Body"].read(), obj["ETag"]

    def replace_json(self, key: str, value: Any, if_match: str | None = None) -> str:
        # S3 conditional writes: If-Match for compare-and-swap, If-None-Match for create-only.
        extra: _Conditions = {}
        if if_match == "":
            extra["IfNoneMatch"] = "*"
        elif if_match is not None:
            extra["IfMatch"] = if_match
        try:
            resp = _client().put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=dump_json(value),
                ContentType="application/json",
                **extra,
            )
        except ClientError as exc:
            if _code(exc) in ("412", "PreconditionFailed", "ConditionalRequestConflict"):
                raise PreconditionFailed(f"{self.url(key)} changed while being replaced") from None
            self._raise(exc, "writing", key)
        except Exception as exc:  # noqa: BLE001
            self._raise(exc, "writing", key)
        return resp["ETag"]

    def _raise(self, exc: Exception, doing: str, key: str) -> NoReturn:
        raise _translate(exc, self.uri, doing, key) from None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: Exception, uri: str, doing: str, key: str) -> StoreError:
    where = f"{uri}: {doing} {key}"
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return StoreError(
            f"{where}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, or use a local directory as the store"
        )
    if isinstance(exc, EndpointConnectionError):
        return StoreError(f"{where}: cannot reach the S3 endpoint ({exc})")
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code in ("NoSuchKey", "404", "NotFound"):
            return NotFoundError(uri, key)
        if code == "NoSuchBucket":
            return StoreError(f"{where}: bucket does not exist; create it or fix the store URI")
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            return StoreError(f"{where}: access denied; check the credentials' IAM permissions")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return StoreError(f"{where}: credentials rejected ({code}); refresh them")
        return StoreError(f"{where}: {code or 'error'}: {exc}")
    if isinstance(exc, BotoCoreError):
        return StoreError(f"{where}: {exc}")
    if isinstance(exc, StoreError):
        return exc
    return StoreError(f"{where}: {type(exc).__name__}: {exc}")
