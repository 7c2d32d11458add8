"""`traygo feedback add | list | export` as a user types them: `add` against the real local
inference server (pizza and burger live), `list` and `export` on records in a local store."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.lambdas.conftest import BLUE, RED, image_bytes, registry, server
from traygo import feedback, layout
from traygo.cli import cli
from traygo.errors import TraygoError
from traygo.registry import Registry
from traygo.store import Store, open_store
from traygo.store.base import dump_json

__all__ = ["registry", "server"]  # the fixtures, imported for pytest to find

LIVE = ("burger", "pizza")
GREEN = (20, 200, 20)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["feedback", *args])


def pictures(folder: Path) -> dict[str, bytes]:
    """Three pictures (one in a subfolder), a hidden one and a text file that add skips."""
    files = {
        "red.jpg": image_bytes(RED, "JPEG"),
        "blue.png": image_bytes(BLUE, "PNG"),
        "sub/green.webp": image_bytes(GREEN, "WEBP"),
        ".hidden.jpg": image_bytes(RED, "JPEG", size=32),
        ".cache/red.jpg": image_bytes(RED, "JPEG", size=48),
        "notes.txt": b"not a picture",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return {k: v for k, v in files.items() if not k.startswith(".") and k.endswith(("g", "p"))}


def add(server: str, *args: str) -> Result:
    return run("add", "--endpoint", server, *args)


# --- add ---


def test_add_stores_each_picture_with_its_truth_once(
    server: str, registry: Registry, tmp_path: Path
) -> None:
    sent = pictures(tmp_path / "tray")
    first = add(server, str(tmp_path / "tray"), "--present", "pizza", "--unsure", "burger")
    assert first.exit_code == 0, first.output
    assert first.stdout == "3 saved, 0 already there, 0 refused\n"
    records = feedback.read_records(registry.store)
    assert records.unreadable == 0
    assert sorted(r.image_sha256 for r in records.items) == sorted(
        hashlib.sha256(data).hexdigest() for data in sent.values()
    )
    for record in records.items:
        assert record.truth == feedback.Truth(("pizza",), (), ("burger",))
        assert registry.store.exists(record.image_key)

    again = add(server, str(tmp_path / "tray"), "--present", "pizza", "--unsure", "burger")
    assert again.exit_code == 0, again.output
    assert again.stdout == "0 saved, 3 already there, 0 refused\n"
    assert len(feedback.read_records(registry.store).items) == 3


def test_a_refused_file_is_counted_and_the_others_are_saved(
    server: str, registry: Registry, tmp_path: Path
) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(image_bytes(RED, "JPEG"))
    not_an_image = tmp_path / "scan.jpg"
    not_an_image.write_bytes(b"not a picture at all")
    cut = tmp_path / "cut.png"  # a picture's header, its pixels cut off: the API refuses it
    cut.write_bytes(image_bytes(BLUE, "PNG", size=256)[:120])
    result = add(server, str(not_an_image), str(cut), str(good), "--present", "")
    assert result.exit_code == 1
    assert result.stdout == "1 saved, 0 already there, 2 refused\n"
    assert f"refused {not_an_image}: the data is not an image" in result.stderr
    assert f"refused {cut}: the image data is truncated" in result.stderr  # the API said so
    (record,) = feedback.read_records(registry.store).items
    assert record.truth == feedback.Truth((), LIVE, ())  # "" : none of the live labels


@pytest.mark.parametrize(
    ("truth", "message"),
    [
        (["--present", "pizza,sushi"], "no live model for sushi; live: burger, pizza"),
        (["--present", "pizza", "--unsure", "pizza"], "pizza cannot be both present and unsure"),
    ],
)
def test_a_wrong_label_stops_at_once_with_the_apis_message(
    server: str, registry: Registry, tmp_path: Path, truth: list[str], message: str
) -> None:
    pictures(tmp_path)
    result = add(server, str(tmp_path), *truth)
    assert result.exit_code == 1 and result.stdout == ""
    assert isinstance(result.exception, TraygoError)
    assert str(result.exception).endswith(f"answered 422: {message}")
    assert result.exception.hint  # the API's: what to do
    assert feedback.read_records(registry.store).items == []


def test_add_says_when_there_is_nothing_to_send(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no pictures here")
    result = add("http://127.0.0.1:9", str(tmp_path), "--present", "pizza")
    assert result.exit_code == 1 and "no pictures in" in str(result.exception)
    missing = add("http://127.0.0.1:9", str(tmp_path / "nowhere"), "--present", "pizza")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


# --- list and export, on records written as the API writes them ---


def put_record(
    store: Store, data: bytes, present: tuple[str, ...], unsure: tuple[str, ...], when: datetime
) -> None:
    """A correction as POST /feedback stores it."""
    sha = hashlib.sha256(data).hexdigest()
    key = layout.feedback_image_key(sha, "png")
    store.put_bytes(key, data)
    truth = feedback.truth_for(present, unsure, LIVE)
    doc = feedback.build_record(
        sha, key, len(data), truth, None, received_at=when, corrects=None, api_key_id=None,
        source="body",
    )  # fmt: skip
    store.put_bytes(layout.feedback_record_key(doc["id"]), dump_json(doc))


@pytest.fixture
def corrections(tmp_path: Path) -> Store:
    """Four corrections over two weeks (oldest first: pizza; burger and pizza; nothing;
    burger, unsure of pizza), and one record that is not one."""
    store = open_store(tmp_path / "store")
    for data, present, unsure, day in [
        (image_bytes(RED), ("pizza",), (), datetime(2026, 11, 24, tzinfo=UTC)),
        (image_bytes(BLUE), ("burger", "pizza"), (), datetime(2026, 12, 1, tzinfo=UTC)),
        (image_bytes(GREEN), (), (), datetime(2026, 12, 2, tzinfo=UTC)),
        (image_bytes(GREEN, size=32), ("burger",), ("pizza",), datetime(2026, 12, 3, tzinfo=UTC)),
    ]:
        put_record(store, data, present, unsure, day)
    store.put_bytes(layout.feedback_record_key("broken"), b'{"id": "broken"}')
    return store


def test_list_counts_per_label_and_week(corrections: Store) -> None:
    result = run("list", "--store", corrections.uri, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "store": corrections.uri,
        "total": 4,
        "unreadable": 1,
        "labels": {
            "burger": {"present": 2, "absent": 2, "unsure": 0},
            "pizza": {"present": 2, "absent": 1, "unsure": 1},
        },
        "weeks": {"2026-W48": 1, "2026-W49": 3},
    }
    table = run("list", "--store", corrections.uri)
    assert table.exit_code == 0, table.output
    rows = [line.strip("│ ").split() for line in table.stdout.splitlines()]
    assert [x for x in rows if x[:1] == ["pizza"]] == [["pizza", "│", "2", "│", "1", "│", "1"]]
    assert ["2026-W49", "│", "3"] in rows
    assert table.stdout.endswith(f"4 records in {corrections.uri}, 1 could not be read\n")


def test_list_says_when_the_store_has_no_feedback(tmp_path: Path) -> None:
    result = run("list", "--store", str(tmp_path / "empty"))
    assert result.exit_code == 0 and result.stdout.startswith("no feedback in ")


def manifest(folder: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (folder / "feedback.jsonl").read_text().splitlines()]


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.png")}


def test_export_writes_label_folders_and_the_manifest(corrections: Store, tmp_path: Path) -> None:
    records = feedback.read_records(corrections).items
    out = tmp_path / "export"
    result = run("export", str(out), "--store", corrections.uri)
    assert result.exit_code == 0, result.output
    red, both, nothing, unsure = (r.image_sha256 for r in records)
    assert files(out) == {
        f"pizza/{red}.png",
        f"pizza/{both}.png",
        f"burger/{both}.png",
        f"none/{nothing}.png",
        f"burger/{unsure}.png",
    }
    for copy in out.rglob("*.png"):  # each copy holds the picture its name says
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == copy.stem
    lines = manifest(out)
    assert [x["id"] for x in lines] == [r.id for r in records]
    assert lines[1] == {
        "id": records[1].id,
        "received_at": "2026-12-01T00:00:00+00:00",
        "file": f"burger/{both}.png",
        "sha256": both,
        "present": ["burger", "pizza"],
        "absent": [],
        "unsure": [],
    }
    assert lines[3]["unsure"] == ["pizza"] and lines[2]["absent"] == list(LIVE)
    assert "4 records exported" in result.stdout and "5 files written" in result.stdout


def test_export_never_overwrites_another_file(corrections: Store, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert run("export", str(out), "--store", corrections.uri).exit_code == 0
    again = run("export", str(out), "--store", corrections.uri)  # the same bytes: skipped, fine
    assert again.exit_code == 0 and "0 files written, 5 already there" in again.stdout
    red = feedback.read_records(corrections).items[0]
    taken = out / "pizza" / f"{red.image_sha256}.png"
    taken.write_bytes(b"someone else's file")
    clash = run("export", str(out), "--store", corrections.uri)
    assert clash.exit_code == 1
    assert taken.read_bytes() == b"someone else's file"
    assert f"skipped record {red.id}: {taken} holds another file" in clash.stderr
    assert "3 records exported" in clash.stdout and "1 skipped" in clash.stdout
    assert len(manifest(out)) == 4  # the earlier export's line stays


def test_a_record_whose_picture_is_missing_is_skipped(corrections: Store, tmp_path: Path) -> None:
    lost = feedback.read_records(corrections).items[2]
    corrections.delete(lost.image_key)
    out = tmp_path / "export"
    result = run("export", str(out), "--store", corrections.uri)
    assert result.exit_code == 1
    assert f"skipped record {lost.id}: its picture {lost.image_key} is missing" in result.stderr
    assert not (out / "none").exists()
    assert lost.id not in {x["id"] for x in manifest(out)} and len(manifest(out)) == 3


def test_export_label_takes_the_records_that_say_something_about_it(
    corrections: Store, tmp_path: Path
) -> None:
    records = feedback.read_records(corrections).items
    out = tmp_path / "export"
    result = run("export", str(out), "--store", corrections.uri, "--label", "pizza")
    assert result.exit_code == 0, result.output
    # the fourth is unsure of pizza: it says nothing about it
    assert [x["id"] for x in manifest(out)] == [r.id for r in records[:3]]
    assert f"burger/{records[3].image_sha256}.png" not in files(out)
    assert run("export", str(out), "--store", corrections.uri).exit_code == 0
    assert [x["id"] for x in manifest(out)] == [r.id for r in records]  # merged
