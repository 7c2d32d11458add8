"""The storage contract: every S3 key the parts share is made here (see DESIGN.md)."""

from __future__ import annotations

IMAGES = "images"
MODELS = "models"


def query_prefix(slug: str) -> str:
    return f"{IMAGES}/{slug}/"


def image_key(slug: str, sha256: str, ext: str) -> str:
    return f"{IMAGES}/{slug}/{sha256}.{ext}"


def manifest_key(slug: str) -> str:
    return f"{IMAGES}/{slug}/manifest.jsonl"


def debug_prefix(slug: str) -> str:
    return f"{IMAGES}/{slug}/_debug/"


def label_prefix(label: str) -> str:
    return f"{MODELS}/{label}/"


def version_prefix(label: str, version: str) -> str:
    return f"{MODELS}/{label}/{version}/"


def artifact_key(label: str, version: str, name: str) -> str:
    return f"{MODELS}/{label}/{version}/{name}"


def metadata_key(label: str, version: str) -> str:
    return artifact_key(label, version, "metadata.json")


def live_key(label: str) -> str:
    return f"{MODELS}/{label}/live.json"


def checkpoint_prefix(label: str, run_id: str) -> str:
    return f"{MODELS}/{label}/_checkpoints/{run_id}/"
