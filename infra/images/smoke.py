"""Host-side helpers for `make images`: seed the bucket, then check what the containers wrote.

    python -m infra.images.smoke seed-training BUCKET DIR   # tiny image set + label config
    python -m infra.images.smoke check-model BUCKET LABEL   # a published, promoted version
    python -m infra.images.smoke check-images BUCKET QUERY  # scraped images and a manifest

The bucket is on moto's server (AWS_ENDPOINT_URL); every check exits non-zero on failure.
"""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import click
from PIL import Image, ImageDraw

from traygo import layout
from traygo.images.hashing import sha256_hex
from traygo.registry import Registry
from traygo.slug import slugify
from traygo.store import open_store

LABEL = "shapes"
POSITIVE, NEGATIVE = "red circles", "blue squares"
PER_CLASS = 24


def _picture(kind: str, rng: random.Random, size: int = 64) -> bytes:
    grey = rng.randint(90, 170)
    img = Image.new("RGB", (size, size), (grey, grey, grey))
    draw = ImageDraw.Draw(img)
    x, y = rng.randint(2, size // 3), rng.randint(2, size // 3)
    side = rng.randint(size // 3, size // 2)
    if kind == POSITIVE:
        draw.ellipse([x, y, x + side, y + side], fill=(220, rng.randint(0, 60), 30))
    else:
        draw.rectangle([x, y, x + side, y + side], fill=(30, rng.randint(0, 60), 220))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@click.group()
def cli() -> None:
    """Smoke-test helpers for the job images."""


@cli.command("seed-training")
@click.argument("bucket")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def seed_training(bucket: str, folder: Path) -> None:
    """Write a separable two-class image set to images/ and a label config to FOLDER."""
    store = open_store(f"s3://{bucket}")
    rng = random.Random(7)
    for query in (POSITIVE, NEGATIVE):
        for _ in range(PER_CLASS):
            data = _picture(query, rng)
            store.put_bytes(layout.image_key(slugify(query), sha256_hex(data), "png"), data)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.toml").write_text(
        f'[{LABEL}]\npositive = ["{POSITIVE}"]\nnegative = ["{NEGATIVE}"]\n'
    )
    click.echo(f"seeded s3://{bucket}/images/ with {2 * PER_CLASS} pictures for {LABEL!r}")


@cli.command("check-model")
@click.argument("bucket")
@click.argument("label")
def check_model(bucket: str, label: str) -> None:
    """A version of LABEL with model.tflite and metadata.json, and a live pointer to it."""
    registry = Registry(open_store(f"s3://{bucket}"))
    versions = registry.versions(label)
    if not versions:
        sys.exit(f"smoke: no published version of {label} in s3://{bucket}")
    version = versions[-1]
    meta = registry.metadata(label, version)
    if not registry.store.exists(layout.artifact_key(label, version, "model.tflite")):
        sys.exit(f"smoke: {label}/{version} has no model.tflite")
    live = registry.live(label)
    if live is None or live.version != version:
        sys.exit(f"smoke: {label}/{version} was not promoted (live: {live})")
    accuracy = meta["metrics"]["accuracy"]
    click.echo(f"smoke: {label}/{version} published and live, accuracy {accuracy:.3f}")


@cli.command("check-images")
@click.argument("bucket")
@click.argument("query")
def check_images(bucket: str, query: str) -> None:
    """Scraped images and a manifest line for each under images/<slug>/."""
    store = open_store(f"s3://{bucket}")
    slug = slugify(query)
    prefix = layout.query_prefix(slug)
    images = [k for k in store.list(prefix) if "/" not in k[len(prefix) :] and "." in k]
    images = [k for k in images if not k.endswith(".jsonl")]
    if not images:
        sys.exit(f"smoke: no images under s3://{bucket}/{prefix}")
    manifest = store.get_bytes(layout.manifest_key(slug)).decode().splitlines()
    if len(manifest) < len(images):
        sys.exit(f"smoke: {len(images)} images but {len(manifest)} manifest lines")
    click.echo(f"smoke: {len(images)} images and their manifest under {prefix}")


if __name__ == "__main__":
    cli()
