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


# Every query's debug captures under one prefix, so one lifecycle rule expires them all.
DEBUG = f"{IMAGES}/_debug"


def debug_prefix(slug: str) -> str:
    return f"{DEBUG}/{slug}/"


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


# --- the shared pretrained backbone and its feature cache ---
BACKBONES = "backbones"
FEATURES = "features"


def backbone_prefix(version: str) -> str:
    return f"{BACKBONES}/{version}/"


def backbone_key(version: str, name: str) -> str:
    return f"{BACKBONES}/{version}/{name}"


def backbone_checkpoint_prefix(run_id: str) -> str:
    """Where `traygo backbone tune` keeps its per-epoch checkpoints (a Spot reclaim resumes)."""
    return f"{BACKBONES}/_checkpoints/{run_id}/"


def current_backbone_key() -> str:
    """The backbone new heads train on; the Lambda serves each head on its own."""
    return f"{BACKBONES}/current.json"


def feature_prefix(backbone_version: str, view: str) -> str:
    return f"{FEATURES}/{backbone_version}/{view}/"


def feature_shard_key(backbone_version: str, view: str, shard: str) -> str:
    return f"{FEATURES}/{backbone_version}/{view}/{shard}.npz"


# --- the canteen's corrections (POST /feedback): the only prefix the inference Lambda writes ---
FEEDBACK = "feedback"
FEEDBACK_IMAGES = f"{FEEDBACK}/images/"
FEEDBACK_RECORDS = f"{FEEDBACK}/records/"


def feedback_image_key(sha256: str, ext: str) -> str:
    return f"{FEEDBACK_IMAGES}{sha256}.{ext}"


def feedback_record_key(record_id: str) -> str:
    return f"{FEEDBACK_RECORDS}{record_id}.json"
