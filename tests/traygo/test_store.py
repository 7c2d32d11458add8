from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest

from traygo.errors import ConfigError, NotFoundError, PreconditionFailed, StoreError
from traygo.store import Store, open_store


def test_bytes_round_trip_and_head(store: Store) -> None:
    store.put_bytes("images/pizza/abc.jpg", b"\xff\xd8data")
    assert store.get_bytes("images/pizza/abc.jpg") == b"\xff\xd8data"
    info = store.head("images/pizza/abc.jpg")
    assert info is not None and info.size == 6 and info.etag.startswith('"')
    assert store.exists("images/pizza/abc.jpg")
    assert not store.exists("images/pizza/missing.jpg")
    assert store.head("images/pizza/missing.jpg") is None


def test_json_round_trip(store: Store) -> None:
    store.put_json("models/pizza/v1/metadata.json", {"b": [1, 2], "a": "x"})
    assert store.get_json("models/pizza/v1/metadata.json") == {"a": "x", "b": [1, 2]}


def test_missing_key_raises_not_found_naming_it(store: Store) -> None:
    with pytest.raises(NotFoundError, match=r"nothing\.json"):
        store.get_bytes("nothing.json")


def test_list_is_recursive_sorted_and_scoped_to_prefix(store: Store) -> None:
    for key in [
        "images/b/2.jpg",
        "images/a/1.jpg",
        "images/a/manifest.jsonl",
        "models/x/live.json",
    ]:
        store.put_bytes(key, b"x")
    assert list(store.list("images/")) == [
        "images/a/1.jpg",
        "images/a/manifest.jsonl",
        "images/b/2.jpg",
    ]
    assert list(store.list("images/a/")) == ["images/a/1.jpg", "images/a/manifest.jsonl"]
    assert len(list(store.list())) == 4
    assert list(store.list("nope/")) == []


def test_delete_removes_and_tolerates_absent(store: Store) -> None:
    store.put_bytes("a/b", b"1")
    store.delete("a/b")
    store.delete("a/b")
    assert not store.exists("a/b")


def test_etags_match_between_backends(tmp_path: Path, s3_bucket: str) -> None:
    local, s3 = open_store(tmp_path), open_store(f"s3://{s3_bucket}")
    for backend in (local, s3):
        backend.put_bytes("k", b"same bytes")
    assert local.head("k") == s3.head("k")


def test_conditional_read_returns_nothing_when_unchanged(store: Store) -> None:
    store.put_json("models/pizza/live.json", {"version": "v1"})
    data, etag = store.get_if_changed("models/pizza/live.json", None)
    assert data is not None and b"v1" in data
    unchanged, same = store.get_if_changed("models/pizza/live.json", etag)
    assert unchanged is None and same == etag
    store.put_json("models/pizza/live.json", {"version": "v2"})
    changed, new_etag = store.get_if_changed("models/pizza/live.json", etag)
    assert changed is not None and b"v2" in changed and new_etag != etag


def test_replace_json_compare_and_swap(store: Store) -> None:
    etag = store.replace_json("p.json", {"n": 1}, if_match="")
    with pytest.raises(PreconditionFailed):
        store.replace_json("p.json", {"n": 2}, if_match="")  # must not exist yet
    with pytest.raises(PreconditionFailed):
        store.replace_json("p.json", {"n": 2}, if_match='"stale"')
    assert store.get_json("p.json") == {"n": 1}
    store.replace_json("p.json", {"n": 3}, if_match=etag)
    assert store.get_json("p.json") == {"n": 3}


def test_concurrent_compare_and_swap_loses_no_update(store: Store) -> None:
    store.replace_json("counter.json", {"n": 0})

    def bump() -> None:
        for _ in range(5):
            while True:
                data, etag = store.get_if_changed("counter.json", None)
                assert data is not None
                try:
                    store.replace_json("counter.json", {"n": json.loads(data)["n"] + 1}, etag)
                    break
                except PreconditionFailed:
                    continue

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_json("counter.json") == {"n": 20}


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
def test_invalid_keys_are_refused(store: Store, key: str) -> None:
    with pytest.raises(StoreError, match="invalid key"):
        store.put_bytes(key, b"x")


def test_local_store_never_exposes_temp_files(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.replace_json("models/x/live.json", {"version": "v"})
    assert list(store.list()) == ["models/x/live.json"]


def test_s3_prefix_is_applied_and_hidden(s3_bucket: str, moto_endpoint: str) -> None:
    open_store(f"s3://{s3_bucket}/team/a").put_bytes("k.txt", b"1")
    raw = boto3.client("s3", endpoint_url=moto_endpoint).list_objects_v2(Bucket=s3_bucket)
    assert [o["Key"] for o in raw["Contents"]] == ["team/a/k.txt"]
    assert list(open_store(f"s3://{s3_bucket}/team/a").list()) == ["k.txt"]


def test_missing_bucket_is_one_clear_error(moto_endpoint: str) -> None:
    store = open_store("s3://no-such-bucket-anywhere")
    with pytest.raises(StoreError, match=r"s3://no-such-bucket-anywhere.*bucket does not exist"):
        store.put_bytes("k", b"1")
    with pytest.raises(StoreError, match="bucket does not exist"):
        list(store.list())


def test_no_credentials_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import traygo.store.s3 as s3mod

    monkeypatch.setattr(s3mod._local, "client", None, raising=False)
    with pytest.raises(StoreError, match="no AWS credentials"):
        open_store("s3://some-bucket").get_bytes("k")
    monkeypatch.setattr(s3mod._local, "client", None, raising=False)


def test_denied_access_is_one_clear_error(s3_bucket: str, moto_endpoint: str) -> None:
    # A bucket policy that denies everyone: moto enforces it over HTTP like S3 does.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{s3_bucket}/*",
            }
        ],
    }
    boto3.client("s3", endpoint_url=moto_endpoint).put_bucket_policy(
        Bucket=s3_bucket, Policy=json.dumps(policy)
    )
    store = open_store(f"s3://{s3_bucket}")
    store.put_bytes("k", b"1")
    with pytest.raises(StoreError, match=rf"s3://{s3_bucket}: reading k: access denied"):
        store.get_bytes("k")


@pytest.mark.parametrize("uri", ["gs://bucket", "http://example.com/x", "ftp://h/p"])
def test_unsupported_schemes_are_refused(uri: str) -> None:
    with pytest.raises(ConfigError, match="unsupported scheme"):
        open_store(uri)


def test_store_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        open_store(tmp_path / "file")


def test_store_resolved_from_env_opens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from traygo.settings import InferenceSettings, resolve

    monkeypatch.setenv("TRAYGO_STORE", str(tmp_path / "envstore"))
    store = resolve(InferenceSettings).store
    assert open_store(store).uri == str((tmp_path / "envstore").resolve())


def test_create_only_writes_never_replace(store: Store) -> None:
    from traygo.errors import AlreadyExists, StoreError

    store.create_bytes("models/pizza/v1/model.tflite", b"first")
    with pytest.raises(AlreadyExists):
        store.create_bytes("models/pizza/v1/model.tflite", b"second")
    assert store.get_bytes("models/pizza/v1/model.tflite") == b"first"
    # put_new: the same bytes again are a no-op (a retried job); other bytes are refused
    assert store.put_new("models/pizza/v1/model.tflite", b"first") is False
    with pytest.raises(StoreError, match="write-once"):
        store.put_new("models/pizza/v1/model.tflite", b"other")
    assert store.put_new("models/pizza/v2/model.tflite", b"new") is True
    assert list(store.list("models/pizza/")) == [
        "models/pizza/v1/model.tflite",
        "models/pizza/v2/model.tflite",
    ]
