"""`traygo feedback`: send a canteen's corrections to the API, see what the store holds, and
export it as the labelled folders `traygo train --images` reads.

`add` goes through POST /feedback like any client, so a correction is checked and stored by
the one writer (the API); `list` and `export` only read the store (traygo.feedback).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from traygo import config, endpoint_client, feedback
from traygo.background import IMAGE_EXTENSIONS
from traygo.errors import ImageError, NotFoundError, TraygoError
from traygo.images.hashing import sha256_hex
from traygo.images.shrink import ApiLimits
from traygo.settings import resolve
from traygo.store import Store, open_store

MANIFEST = feedback.EXPORT_MANIFEST
NONE_FOLDER = "none"  # the pictures with no label on them: a negative for every label
# What the picture itself is to blame for: that file is refused, the others carry on. Any
# other error (an unknown label, a wrong key, a server down) would fail every file alike.
PICTURE_REFUSED = (400, 413, 415)

_Item = TypeVar("_Item")


@click.group("feedback")
def app() -> None:
    """Send corrections (a picture and what is on it) to the API, count them, export them."""


# --- add ---


@dataclass
class _Sent:
    saved: int = 0
    already: int = 0
    refused: int = 0
    shrunk: int = 0

    def line(self) -> str:
        return f"{self.saved} saved, {self.already} already there, {self.refused} refused"


@app.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--present",
    required=True,
    help='Comma-separated labels on every picture given; "" when none of the labels is.',
)
@click.option("--unsure", default="", help="Comma-separated labels you cannot tell on them.")
@config.option("endpoint")
@config.option("api_key", "--api-key")
@click.option(
    "--no-shrink",
    is_flag=True,
    help="Send each file as it is, even when the API would refuse it as too big.",
)
def add(
    paths: tuple[Path, ...],
    present: str,
    unsure: str,
    endpoint: str,
    api_key: str | None,
    no_shrink: bool,
) -> None:
    """Send pictures to the API as corrections.

    Each picture in PATHS (image files, or folders searched for .jpg .jpeg .png .webp .gif)
    is sent to the endpoint as a correction: the labels --present are on it, those --unsure
    might be, every other live label is not. A picture refused (not an image, too big) is
    reported and the others carry on; exits 1 if any was refused."""
    files = _image_files(paths)
    limits = None if no_shrink else resolve(ApiLimits)
    query = {"present": _labels(present), "unsure": _labels(unsure)}
    sent = _Sent()
    try:
        for path in _bar(files, "feedback"):
            _send(path, query, endpoint, api_key, limits, sent)
    except TraygoError:
        if sent.saved or sent.already or sent.refused:
            click.echo(f"traygo: stopped after {sent.line()}", err=True)
        raise
    if sent.shrunk:
        click.echo(
            f"traygo: {sent.shrunk} of them over the API's size limits, sent as smaller JPEGs "
            "(--no-shrink sends them as they are)",
            err=True,
        )
    click.echo(sent.line())
    if sent.refused:
        raise click.exceptions.Exit(1)


def _labels(text: str) -> str:
    return ",".join(x.strip() for x in text.split(",") if x.strip())


def _image_files(paths: Sequence[Path]) -> list[Path]:
    """Files named are taken as they are (the API judges them); folders give their images."""
    found: dict[Path, None] = {}  # ordered and without repeats
    for path in paths:
        if path.is_dir():
            found.update(dict.fromkeys(_images_under(path)))
        else:
            found[path] = None
    if not found:
        shown = " ".join(str(p) for p in paths)
        raise TraygoError(
            f"no pictures in {shown}",
            hint=f"give image files or folders that hold {', '.join(IMAGE_EXTENSIONS)} files",
        )
    return list(found)


def _images_under(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _send(
    path: Path,
    query: dict[str, str],
    endpoint: str,
    api_key: str | None,
    limits: ApiLimits | None,
    sent: _Sent,
) -> None:
    try:
        request = endpoint_client.file_body(path, limits)
        answer = endpoint_client.send_feedback(
            endpoint, request.body, request.content_type, query, api_key
        )
    except endpoint_client.EndpointError as exc:
        if exc.status not in PICTURE_REFUSED:
            raise
        _refused(path, exc.reason, sent)
        return
    except ImageError as exc:
        _refused(path, exc.message, sent)
        return
    except OSError as exc:
        _refused(path, f"cannot read it ({exc.strerror or exc})", sent)
        return
    if request.note:
        sent.shrunk += 1
    if answer.status == 201:
        sent.saved += 1
    else:
        sent.already += 1


def _refused(path: Path, reason: str, sent: _Sent) -> None:
    sent.refused += 1
    _say(f"traygo: refused {path}: {reason}")


# --- list ---


@app.command("list")
@config.option("store")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def list_feedback(store: str, as_json: bool) -> None:
    """Count the corrections in the store.

    Per label, how many corrections say it is present, absent or unsure; per ISO week, how
    many came in."""
    opened = open_store(store)
    records = feedback.read_records(opened)
    summary = _summary(opened, records)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    if not records.items and not records.unreadable:
        click.echo(f"no feedback in {opened.uri}")
        return
    _print_tables(summary)


def _summary(store: Store, records: feedback.Records) -> dict[str, Any]:
    by_label = feedback.counts_by_label(records.items)
    kinds = ("present", "absent", "unsure")
    return {
        "store": store.uri,
        "total": len(records.items),
        "unreadable": records.unreadable,
        "labels": {k: {kind: v[kind] for kind in kinds} for k, v in by_label.items()},
        "weeks": feedback.counts_by_week(records.items),
    }


def _print_tables(summary: dict[str, Any]) -> None:
    console = Console()
    labels = Table("label", "present", "absent", "unsure")
    for label, counts in summary["labels"].items():
        labels.add_row(label, *(str(n) for n in counts.values()))
    weeks = Table("week", "records")
    for week, n in summary["weeks"].items():
        weeks.add_row(week, str(n))
    console.print(labels)
    console.print(weeks)
    click.echo(
        f"{summary['total']} records in {summary['store']}, "
        f"{summary['unreadable']} could not be read"
    )


# --- export ---


@dataclass
class _Exported:
    records: int = 0
    written: Counter[str] = field(default_factory=Counter)  # per folder
    already: int = 0
    skipped: int = 0


@app.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@config.option("store")
@click.option("--label", help="Only the corrections that say whether this label is on them.")
def export(folder: Path, store: str, label: str | None) -> None:
    """Write the corrections as folders for training.

    FOLDER is laid out as `traygo train --images FOLDER` reads it: each picture in the
    folder of every label on it (none/ when no label is), and feedback.jsonl, one line per
    correction with its whole truth (present, absent, unsure). A file already there is never
    overwritten; exits 1 if a correction could not be exported."""
    opened = open_store(store)
    records = feedback.read_records(opened).items
    if label is not None:
        records = [r for r, _ in feedback.records_for(records, label)]
    folder.mkdir(parents=True, exist_ok=True)
    done = _Exported()
    lines = [
        line
        for record in _bar(records, "export")
        if (line := _export(opened, record, folder, done))
    ]
    total = _merge_manifest(folder / MANIFEST, lines)
    _report(folder, done, total)
    if done.skipped:
        raise click.exceptions.Exit(1)


def _export(store: Store, record: feedback.Record, folder: Path, done: _Exported) -> dict[str, Any]:
    """Copy one record's picture into its folders; its manifest line, or {} when skipped."""
    try:
        data = store.get_bytes(record.image_key)
    except NotFoundError:
        return _skip(done, record, f"its picture {record.image_key} is missing from the store")
    if sha256_hex(data) != record.image_sha256:
        return _skip(done, record, f"{record.image_key} does not hold the picture it names")
    name = f"{record.image_sha256}{Path(record.image_key).suffix}"
    targets = [Path(x, name) for x in record.truth.present or (NONE_FOLDER,)]
    clashes = [t for t in targets if _taken_by_other(folder / t, record.image_sha256)]
    if clashes:
        why = f"{', '.join(str(folder / t) for t in clashes)} holds another file; move it away"
        return _skip(done, record, why)
    for target in targets:
        if _write_new(folder / target, data):
            done.written[target.parent.name] += 1
        else:
            done.already += 1
    done.records += 1
    return {
        "id": record.id,
        "received_at": record.received_at.isoformat(),
        "file": targets[0].as_posix(),
        "sha256": record.image_sha256,
        **record.truth.to_json(),
    }


def _skip(done: _Exported, record: feedback.Record, why: str) -> dict[str, Any]:
    done.skipped += 1
    _say(f"traygo: skipped record {record.id}: {why}")
    return {}


def _taken_by_other(path: Path, sha256: str) -> bool:
    return path.exists() and sha256_hex(path.read_bytes()) != sha256


def _write_new(path: Path, data: bytes) -> bool:
    """Create `path` with `data`, never replacing a file; False when it was there already.
    The bytes go to a hidden file first (training skips those) and are linked in whole, so a
    crash leaves no half picture under a name that claims the whole one."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    try:
        os.link(partial, path)
    except FileExistsError:  # written meanwhile by another export: checked equal before
        return False
    finally:
        partial.unlink()
    return True


def _merge_manifest(path: Path, lines: list[dict[str, Any]]) -> int:
    """Union with the lines of earlier exports into this folder, so the manifest covers every
    picture the folders hold (an export with --label adds to one without)."""
    merged = {line["id"]: line for line in _read_manifest(path)}
    merged.update((line["id"], line) for line in lines)
    ordered = sorted(merged.values(), key=lambda x: (x["received_at"], x["id"]))
    partial = path.with_name(f".{path.name}.part")
    partial.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in ordered))
    partial.replace(path)
    return len(ordered)


def _read_manifest(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    for number, text in enumerate(path.read_text().splitlines(), 1):
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, dict) or not {"id", "received_at"} <= line.keys():
            raise TraygoError(
                f"{path}:{number} is not a line of a feedback export",
                hint="export into an empty folder, or remove that file",
            )
        yield line


def _report(folder: Path, done: _Exported, lines: int) -> None:
    for name, n in sorted(done.written.items()):
        click.echo(f"{folder / name}/: {n} new picture{'' if n == 1 else 's'}")
    click.echo(
        f"{done.records} records exported to {folder} ({sum(done.written.values())} files "
        f"written, {done.already} already there), {done.skipped} skipped; "
        f"{folder / MANIFEST}: {lines} lines"
    )


# --- both ---


def _bar(items: Sequence[_Item], desc: str) -> Iterable[_Item]:
    """A progress bar on stderr, only on a terminal."""
    return tqdm(items, desc=desc, unit="img", file=sys.stderr, leave=False, disable=None)


def _say(line: str) -> None:
    """A line on stderr that does not break the progress bar."""
    tqdm.write(line, file=sys.stderr)
