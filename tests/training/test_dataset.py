from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training import dataset as ds
from training.split import split
from traygo.errors import ConfigError

from .conftest import shape_png, write_shapes

CLASSES = ("not_pizza", "pizza")


def test_bad_files_are_skipped_and_counted(shapes: Path) -> None:
    pizza = shapes / "pizza"
    (pizza / "text.jpg").write_bytes(b"hello, not a picture")
    whole = (pizza / "001.png").read_bytes()
    (pizza / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (pizza / "icon.png").write_bytes(shape_png("pizza", np.random.default_rng(9), size=16))
    (pizza / "notes.txt").write_text("not an image name")
    (pizza / "copy.png").write_bytes((pizza / "000.png").read_bytes())

    data = ds.from_folders(shapes, CLASSES)

    assert data.counts == {"not_pizza": 16, "pizza": 16}
    assert data.skipped["not_an_image"] == 2  # text.jpg and notes.txt
    assert data.skipped["truncated"] + data.skipped["corrupt"] == 1
    assert data.skipped["too_small"] == 1
    assert data.exact_duplicates == 1
    assert data.summary()["duplicates_removed"]["exact"] == 1


def test_near_duplicates_share_a_group(tmp_path: Path) -> None:
    root = write_shapes(tmp_path / "images", per_class=8)
    original = Image.open(root / "pizza" / "003.png")
    buf = io.BytesIO()
    original.resize((40, 40)).save(buf, "JPEG", quality=90)  # a thumbnail re-encoded
    (root / "pizza" / "thumb.jpg").write_bytes(buf.getvalue())

    data = ds.from_folders(root, CLASSES)

    by_name = {s.path.name: s for s in data.samples}
    assert by_name["thumb.jpg"].group == by_name["003.png"].group
    assert data.near_duplicate_groups >= 1


def test_split_is_stratified_deterministic_and_never_leaks_groups(tmp_path: Path) -> None:
    root = write_shapes(tmp_path / "images", per_class=30)
    data = ds.from_folders(root, CLASSES)

    train, validation = split(data.samples, seed=7)

    assert split(data.samples, seed=7) == (train, validation)
    assert split(data.samples, seed=8) != (train, validation)
    assert not {s.group for s in train} & {s.group for s in validation}
    assert {s.sha256 for s in train}.isdisjoint(s.sha256 for s in validation)
    assert len(train) + len(validation) == len(data.samples)
    for target in (0, 1):
        share = sum(s.target == target for s in validation) / sum(
            s.target == target for s in data.samples
        )
        assert 0.1 <= share <= 0.35


def test_fingerprint_depends_on_content_not_paths(tmp_path: Path) -> None:
    a = ds.from_folders(write_shapes(tmp_path / "a", per_class=8), CLASSES)
    b = ds.from_folders(write_shapes(tmp_path / "b", per_class=8), CLASSES)
    c = ds.from_folders(write_shapes(tmp_path / "c", per_class=8, seed=1), CLASSES)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_wrong_layout_says_what_is_expected(tmp_path: Path) -> None:
    (tmp_path / "images" / "cats").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"pizza/ \(positives\) and not_pizza/.*cats"):
        ds.class_folders(tmp_path / "images", CLASSES)
    with pytest.raises(ConfigError, match="no such folder"):
        ds.class_folders(tmp_path / "missing", CLASSES)


def test_one_class_or_too_few_images_is_refused(tmp_path: Path) -> None:
    root = write_shapes(tmp_path / "images", per_class=3)
    for f in (root / "not_pizza").iterdir():
        f.unlink()
    data = ds.from_folders(root, CLASSES)
    with pytest.raises(ConfigError, match="'not_pizza' has 0 usable images"):
        ds.check_usable(data, "test")
    few = ds.from_folders(write_shapes(tmp_path / "few", per_class=3), CLASSES)
    with pytest.raises(ConfigError, match=f"at least {ds.MIN_PER_CLASS}"):
        ds.check_usable(few, "test")
