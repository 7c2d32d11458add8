from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training import dataset as ds
from training.split import split
from traygo.errors import ConfigError
from traygo.images.hashing import NEAR_DUPLICATE_DISTANCE, hamming, phash

from .conftest import shape_png, write_shapes

CLASSES = ("not_pizza", "pizza")


def test_a_skipped_file_is_counted_under_its_error_code(shapes: Path) -> None:
    from traygo.errors import ImageError
    from traygo.images.decode import decode

    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "BMP")  # a format the pipeline does not take
    with pytest.raises(ImageError) as raised:  # whatever code the shared decoder gives it
        decode(buf.getvalue())
    (shapes / "pizza" / "scan.jpg").write_bytes(buf.getvalue())  # named as a photo

    data = ds.from_folders(shapes, CLASSES)

    assert dict(data.skipped) == {raised.value.code: 1}


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


def _thumbnail(path: Path) -> bytes:
    buf = io.BytesIO()
    Image.open(path).resize((40, 40)).save(buf, "JPEG", quality=90)  # resized, re-encoded
    return buf.getvalue()


def test_near_duplicates_are_collapsed_and_counted(tmp_path: Path) -> None:
    root = write_shapes(tmp_path / "images", per_class=8)
    (root / "pizza" / "thumb.jpg").write_bytes(_thumbnail(root / "pizza" / "003.png"))
    # the same picture filed under the other class: never trained on, counted as a conflict
    (root / "pizza" / "mislabelled.jpg").write_bytes(_thumbnail(root / "not_pizza" / "002.png"))

    data = ds.from_folders(root, CLASSES)

    names = {s.path.name for s in data.samples}
    assert "003.png" in names and not names & {"thumb.jpg", "mislabelled.jpg"}
    assert data.counts == {"not_pizza": 8, "pizza": 8}
    assert data.summary()["duplicates_removed"] == {"exact": 0, "near": 2}
    assert data.skipped["conflicting_label"] == 1


def _photo(rng: np.random.Generator) -> Image.Image:
    """A picture with structure at every scale, so crops move its perceptual hash gradually."""
    noise = rng.uniform(0, 255, (12, 12, 3)).astype(np.uint8)
    return Image.fromarray(noise).resize((192, 192), Image.Resampling.BICUBIC)


def test_similar_pictures_are_kept_but_grouped(tmp_path: Path) -> None:
    root = write_shapes(tmp_path / "images", per_class=8)
    base = _photo(np.random.default_rng(4))
    base.save(root / "pizza" / "photo.png")
    base_hash = phash(base)
    crops = [base.crop((k, k, 192, 192)) for k in range(2, 60, 2)]
    similar = next(
        (c for c in crops if NEAR_DUPLICATE_DISTANCE < hamming(phash(c), base_hash) <= 10), None
    )
    assert similar is not None, "no crop lands between near-duplicate and unrelated"
    similar.save(root / "pizza" / "photo-crop.png")

    data = ds.from_folders(root, CLASSES)

    by_name = {s.path.name: s for s in data.samples}
    assert by_name["photo-crop.png"].group == by_name["photo.png"].group
    assert data.summary()["duplicates_removed"]["near"] == 0
    for seed in range(12):  # ungrouped, the pair would straddle the split for some seed
        validation = {s.path.name for s in split(data.samples, seed)[1]}
        assert ("photo.png" in validation) == ("photo-crop.png" in validation)


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
    with pytest.raises(ConfigError, match=r"pizza/ for the positives.*no pizza/.*\['cats'\]"):
        ds.label_folders([tmp_path / "images"], "pizza")
    (tmp_path / "only" / "pizza").mkdir(parents=True)
    (tmp_path / "only" / "not_burger").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"no any other folder \(negatives\)"):
        ds.label_folders([tmp_path / "only"], "pizza")
    with pytest.raises(ConfigError, match="no such folder"):
        ds.label_folders([tmp_path / "missing"], "pizza")


def test_folder_rules_positives_negatives_and_not_x(tmp_path: Path) -> None:
    for root, names in {
        "a": ["pizza", "burger", "not_pizza"],
        "b": ["fries", "not_burger"],
    }.items():
        for name in names:
            (tmp_path / root / name).mkdir(parents=True)
    roots = [tmp_path / "a", tmp_path / "b"]
    names = {
        t: sorted(p.name for p in dirs) for t, dirs in ds.label_folders(roots, "pizza").items()
    }
    # not_burger: burger only; no root here is a background pool
    assert names == {1: ["pizza"], 0: ["burger", "fries", "not_pizza"], ds.BACKGROUND: []}
    names = {
        t: sorted(p.name for p in dirs) for t, dirs in ds.label_folders(roots, "burger").items()
    }
    assert names == {1: ["burger"], 0: ["fries", "not_burger", "pizza"], ds.BACKGROUND: []}


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


def _pool_root(root: Path, copy_of: Path | None = None) -> Path:
    """A background pool root: folders of other dishes, none of them a label."""
    rng = np.random.default_rng(11)
    for dish in ("soup", "rice"):
        (root / dish).mkdir(parents=True)
        for i in range(5):
            (root / dish / f"{i}.png").write_bytes(shape_png("not_pizza", rng))
    if copy_of is not None:
        (root / "soup" / "copy.png").write_bytes(copy_of.read_bytes())
    return root


def test_the_pool_is_a_negative_for_every_label_and_never_a_positive(tmp_path: Path) -> None:
    labelled = write_shapes(tmp_path / "labelled", per_class=10)
    (labelled / "not_pizza").rename(labelled / "burger")  # two labels' folders in one root
    first_pizza = sorted((labelled / "pizza").iterdir())[0]
    pool = _pool_root(tmp_path / "other_food", copy_of=first_pizza)
    known = ("pizza", "burger")

    for label, other in (("pizza", "burger"), ("burger", "pizza")):
        data = ds.from_folders([labelled, pool], (f"not_{label}", label), known)
        in_pool = [s for s in data.samples if s.background]
        assert len(in_pool) == data.background == 10  # both dishes, the positive's copy refused
        assert {s.target for s in in_pool} == {0}
        assert {s.path.parent.name for s in in_pool} == {"soup", "rice"}
        assert data.counts == {f"not_{label}": 20, label: 10}
        assert data.summary()["background"] == 10
        assert all(not s.background for s in data.samples if s.path.parent.name == other)
    assert data.skipped["conflicting_label"] == 0  # for burger the pizza copy is a negative too
    pizza = ds.from_folders([labelled, pool], ("not_pizza", "pizza"), known)
    assert pizza.skipped["conflicting_label"] == 1
    kept = {s.path for s in pizza.samples}
    assert first_pizza in kept and pool / "soup" / "copy.png" not in kept


def test_a_root_with_a_label_folder_is_not_a_pool_and_the_pool_can_be_left_out(
    tmp_path: Path,
) -> None:
    labelled = write_shapes(tmp_path / "labelled", per_class=10)
    pool = _pool_root(tmp_path / "other_food")
    without = ds.from_folders([labelled, pool], CLASSES, ("pizza",), background=False)
    assert without.background == 0 and without.counts == {"not_pizza": 10, "pizza": 10}
    # not_pizza/ names a label: that root is classes, whatever else it holds
    mixed = write_shapes(tmp_path / "mixed", per_class=10, seed=4)
    (mixed / "pizza").rename(mixed / "soup")
    data = ds.from_folders([labelled, mixed], CLASSES, ("pizza",))
    assert data.background == 0 and data.counts == {"not_pizza": 30, "pizza": 10}
    # a pool alone has no positives: the usual error, naming what is missing
    with pytest.raises(ConfigError, match=r"no pizza/ \(the positives\)"):
        ds.from_folders([pool], CLASSES, ("pizza",))
