"""The canteen's corrections as training data: pictures with a truth per label.

From the store (`feedback/`, what POST /feedback wrote) or from a folder that `traygo feedback
export` wrote (its `feedback.jsonl` says each picture's truth). A label's samples: a picture is a
positive where the label is present, a negative where it is absent, and left out where the
person was unsure or the label was not live when the correction was made. The same picture
corrected twice counts once, with its latest truth. Near-identical camera frames (the same tray
twice) share a group, so the split never puts one on each side.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from training.dataset import SIMILAR_DISTANCE, Sample
from traygo import feedback
from traygo.errors import ConfigError, ImageError, TraygoError
from traygo.images.decode import decode
from traygo.images.hashing import PhashIndex, phash, sha256_hex
from traygo.store import Store

log = logging.getLogger(__name__)

MANIFEST = feedback.EXPORT_MANIFEST
GROUP_OFFSET = 10_000_000  # feedback groups never share a number with web pictures' groups


@dataclass(frozen=True)
class Correction:
    path: Path
    sha256: str
    truth: feedback.Truth
    received_at: datetime
    group: int = -1


def from_store(store: Store, cache: Path) -> list[Correction]:
    """Every correction in the store, its picture mirrored into `cache` (content-addressed)."""
    records = feedback.read_records(store)
    folder = cache / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for record in tqdm(records.items, desc="sync feedback", unit="img", leave=False):
        path = folder / record.image_key.rsplit("/", 1)[-1]
        if not (path.is_file() and sha256_hex(path.read_bytes()) == record.image_sha256):
            try:
                data = store.get_bytes(record.image_key)
            except TraygoError as exc:
                log.warning("feedback %s: its picture cannot be read (%s); skipped", record.id, exc)
                continue
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        found.append(Correction(path, record.image_sha256, record.truth, record.received_at))
    if records.unreadable:
        log.warning("%d feedback records could not be read; skipped", records.unreadable)
    return grouped(latest(found))


def is_export(root: Path) -> bool:
    return (root / MANIFEST).is_file()


def from_export(root: Path) -> list[Correction]:
    """The corrections of a folder written by `traygo feedback export`."""
    found = []
    for n, line in enumerate((root / MANIFEST).read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            truth = feedback.Truth(*(tuple(doc[k]) for k in ("present", "absent", "unsure")))
            found.append(
                Correction(
                    root / doc["file"],
                    str(doc["sha256"]),
                    truth,
                    datetime.fromisoformat(doc["received_at"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{root / MANIFEST}:{n}: not a feedback line ({exc!r}); export it again with "
                "`traygo feedback export`"
            ) from None
    return grouped(latest(found))


def latest(corrections: list[Correction]) -> list[Correction]:
    """One correction per picture: the most recent truth wins."""
    by_sha: dict[str, Correction] = {}
    for c in sorted(corrections, key=lambda c: c.received_at):
        by_sha[c.sha256] = c
    return sorted(by_sha.values(), key=lambda c: c.sha256)


def grouped(corrections: list[Correction]) -> list[Correction]:
    """Each correction with a group: frames within SIMILAR_DISTANCE of a perceptual hash share
    the first one's group. A group's number comes from its first picture's sha256, so it stays
    the same as more corrections arrive (the split is stable, training/feedback_fit.py). An
    unreadable picture is skipped and logged."""
    index = PhashIndex(SIMILAR_DISTANCE)
    groups: dict[str, int] = {}
    out = []
    for c in corrections:
        try:
            hex_hash = phash(decode(c.path.read_bytes()))
        except (ImageError, OSError) as exc:
            log.warning("feedback picture %s cannot be used (%s); skipped", c.path, exc)
            continue
        similar = index.find(hex_hash)
        group = groups[similar] if similar is not None else GROUP_OFFSET + int(c.sha256[:12], 16)
        index.add(hex_hash, c.sha256)
        groups[c.sha256] = group
        out.append(Correction(c.path, c.sha256, c.truth, c.received_at, group))
    return out


def samples_for(corrections: list[Correction], label: str) -> list[Sample]:
    """`label`'s samples among the corrections (present 1, absent 0; unsure left out)."""
    out = []
    for c in corrections:
        target = c.truth.target(label)
        if target is not None:
            out.append(Sample(c.path, target, c.sha256, c.group, feedback=True))
    return out
