"""The canteen's corrections: what a feedback record holds, its id, and how readers see it.

A correction is a picture and its truth: the labels `present` on it, the labels the person was
`unsure` of, and every other label live at the time `absent`. The picture is stored once, named
by its sha256 (`feedback/images/`); each correction is one JSON record (`feedback/records/`)
named by the picture and its truth, so sending the same correction twice makes one record and
nothing is ever overwritten. The inference Lambda writes them (POST /feedback); training, the
CLI and the benchmarks read them through `read_records`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from traygo import layout
from traygo.errors import StoreError, TraygoError
from traygo.store import Store

log = logging.getLogger(__name__)

SCHEMA = 1
# `traygo feedback export` writes one line per record here, beside the labelled folders: the
# truth the folders alone cannot say (a picture in two folders, unsure labels).
EXPORT_MANIFEST = "feedback.jsonl"
MAX_LABELS = 64  # present + unsure in one correction: more than any menu, less than a flood


class FeedbackError(TraygoError):
    """A correction that cannot be taken as it is; `code` says why (the API's 4xx)."""

    code = "bad_feedback"


@dataclass(frozen=True)
class Truth:
    present: tuple[str, ...]
    absent: tuple[str, ...]
    unsure: tuple[str, ...]

    def target(self, label: str) -> int | None:
        """1 present, 0 absent, None when the record says nothing usable about `label`."""
        if label in self.present:
            return 1
        if label in self.absent:
            return 0
        return None

    def to_json(self) -> dict[str, list[str]]:
        return {
            "present": list(self.present),
            "absent": list(self.absent),
            "unsure": list(self.unsure),
        }


def truth_for(present: Sequence[str], unsure: Sequence[str], live: Sequence[str]) -> Truth:
    """The truth of a correction against the labels live now, or a FeedbackError naming what
    is wrong: an unknown label, a label both present and unsure, too many labels."""
    if len(present) + len(unsure) > MAX_LABELS:
        raise FeedbackError(
            f"a correction names at most {MAX_LABELS} labels", code="too_many_labels"
        )
    known = set(live)
    unknown = sorted({x for x in (*present, *unsure) if x not in known})
    if unknown:
        raise FeedbackError(
            f"no live model for {', '.join(unknown)}; live: {', '.join(sorted(known)) or 'none'}",
            code="unknown_label",
            hint="name only live labels (GET /models lists them)",
        )
    both = sorted(set(present) & set(unsure))
    if both:
        raise FeedbackError(
            f"{', '.join(both)} cannot be both present and unsure",
            code="conflicting_truth",
            hint="list each label in at most one of present and unsure",
        )
    chosen = set(present) | set(unsure)
    return Truth(
        tuple(sorted(set(present))),
        tuple(sorted(known - chosen)),
        tuple(sorted(set(unsure))),
    )


def record_id(image_sha256: str, truth: Truth) -> str:
    """The same picture with the same truth is the same record (idempotence)."""
    text = f"{image_sha256}|{','.join(truth.present)}|{','.join(truth.unsure)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def build_record(
    image_sha256: str,
    image_key: str,
    image_bytes: int,
    truth: Truth,
    answer: dict[str, Any] | None,
    *,
    received_at: datetime,
    corrects: str | None,
    api_key_id: str | None,
    source: str,
) -> dict[str, Any]:
    """One record: the picture, the truth, and the answer traygo gave it when corrected."""
    return {
        "schema": SCHEMA,
        "id": record_id(image_sha256, truth),
        "received_at": received_at.isoformat(),
        "image": {"key": image_key, "sha256": image_sha256, "bytes": image_bytes, "source": source},
        "truth": truth.to_json(),
        "answer": answer,
        "corrects": corrects,
        "api_key_id": api_key_id,
    }


@dataclass(frozen=True)
class Record:
    """A record as readers use it."""

    id: str
    received_at: datetime
    image_key: str
    image_sha256: str
    truth: Truth

    @classmethod
    def parse(cls, doc: Any) -> Record:
        try:
            truth = doc["truth"]
            return cls(
                str(doc["id"]),
                datetime.fromisoformat(doc["received_at"]),
                str(doc["image"]["key"]),
                str(doc["image"]["sha256"]),
                Truth(*(tuple(str(x) for x in truth[k]) for k in ("present", "absent", "unsure"))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"not a feedback record ({exc!r})") from None


@dataclass
class Records:
    """Every readable record, and how many could not be read (logged, never fatal)."""

    items: list[Record]
    unreadable: int = 0


def read_records(store: Store) -> Records:
    """Every feedback record in the store, oldest first."""
    found = Records([])
    for key in store.list(layout.FEEDBACK_RECORDS):
        if not key.endswith(".json"):
            continue
        try:
            found.items.append(Record.parse(store.get_json(key)))
        except StoreError as exc:
            log.warning("skipping feedback record %s: %s", key, exc)
            found.unreadable += 1
    found.items.sort(key=lambda r: (r.received_at, r.id))
    return found


def newest(records: Iterable[Record]) -> datetime | None:
    return max((r.received_at for r in records), default=None)


def counts_by_label(records: Iterable[Record]) -> dict[str, Counter[str]]:
    """Per label: how many records say present, absent, unsure."""
    out: dict[str, Counter[str]] = {}
    for record in records:
        for kind in ("present", "absent", "unsure"):
            for label in getattr(record.truth, kind):
                out.setdefault(label, Counter())[kind] += 1
    return dict(sorted(out.items()))


def counts_by_week(records: Iterable[Record]) -> dict[str, int]:
    """Records per ISO week (`2026-W49`)."""
    weeks: Counter[str] = Counter()
    for record in records:
        year, week, _ = record.received_at.isocalendar()
        weeks[f"{year}-W{week:02d}"] += 1
    return dict(sorted(weeks.items()))


def records_for(records: Iterable[Record], label: str) -> Iterator[tuple[Record, int]]:
    """The records that say something about `label`, with its target (1 present, 0 absent)."""
    for record in records:
        target = record.truth.target(label)
        if target is not None:
            yield record, target
