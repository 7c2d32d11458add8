"""`traygo scrape` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from traygo import layout
from traygo.background import pool_status
from traygo.cli import main
from traygo.labels import load_background
from traygo.store import open_store

from .fixture_site import engine_urls

# A label and a three-query background pool: the shipped pool's 29 queries would take minutes.
LABELS = """\
[pizza]
positive = ["pizza"]
negative = ["salad"]

[background]
queries = ["pasta dish", "fruit bowl", "cake slice"]
"""


def scrape(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["scrape", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def local_image_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TRAYGO_TEST_ALLOW_LOOPBACK_FETCH", "1"
    )  # the fixture's image hosts are on 127.0.0.1


def test_prints_a_summary_table(capsys, site: str, tmp_path: Path) -> None:
    urls = [a for pair in engine_urls(site) for a in ("--engine-url", pair)]
    code, out, err = scrape(
        capsys,
        "--query",
        "pizza",
        "--engines",
        "yahoo",
        "--max",
        "6",
        "--store",
        str(tmp_path / "s"),
        *urls,
    )
    assert code == 0, err
    header, row, problems = out.strip().splitlines()[-3:]
    assert problems == "problems: none"
    assert header.split()[:5] == ["query", "engine", "found", "downloaded", "stored"]
    assert row.split()[:3] == ["pizza", "yahoo", "6"]


def test_fails_when_no_engine_produced_anything(capsys, site: str, tmp_path: Path) -> None:
    code, _, err = scrape(
        capsys,
        "--query",
        "captcha pizza",
        "--engines",
        "bing",
        "--engine-url",
        f"bing={site}/bing",
        "--store",
        str(tmp_path / "s"),
    )
    assert code == 1
    assert "no engine produced any image" in err


def test_exits_non_zero_when_every_engine_drifted(capsys, site: str, tmp_path: Path) -> None:
    urls = [a for pair in engine_urls(site) for a in ("--engine-url", pair)]
    code, out, err = scrape(
        capsys, "--query", "drift pizza", "--max", "10", "--store", str(tmp_path / "s"), *urls
    )
    assert code == 1
    assert "problems: layout_changed 3 (bing, google, yahoo)" in out
    assert "every engine's results page changed layout" in err


def test_one_drifted_engine_is_counted_but_does_not_fail_the_job(capsys, site, tmp_path) -> None:
    code, out, err = scrape(
        capsys,
        *("--query", "drift pizza", "--engines", "google,bing", "--max", "10"),
        *("--engine-url", f"google={site}/google-2022", "--engine-url", f"bing={site}/bing"),
        *("--store", str(tmp_path / "s")),
    )
    assert code == 0, err
    assert "problems: layout_changed 1 (bing)" in out


def test_check_layout_prints_what_each_parser_found(capsys, site: str) -> None:
    urls = [a for pair in engine_urls(site) for a in ("--engine-url", pair)]
    code, out, err = scrape(capsys, "--check-layout", "--query", "hundred pizza", *urls)
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:4]}
    engine, layout, results, full_size, thumbnails, pages, problem = rows["google"]
    assert (engine, layout, problem) == ("google", "current", "-")
    assert int(results) >= 10 and results == full_size == thumbnails == pages
    assert rows["bing"][:2] == ["bing", "a.iusc"] and rows["yahoo"][1:3] == ["#sres", "li"]
    assert f"google: {site}/img/" in out


def test_check_layout_fails_on_a_drifted_engine(capsys, site: str) -> None:
    code, out, err = scrape(
        capsys, "--check-layout", "--query", "drift", "--engines", "google",
        "--engine-url", f"google={site}/google",
    )  # fmt: skip
    assert code == 1 and "layout_changed" in out and "problem" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --query (one or more), --label or --background: one of them"),
        (["--query", "x", "--background"], "--label or --background: one of them"),
        (["--label", "pizza", "--background"], "--label or --background: one of them"),
        (["--query", "x", "--if-missing"], "--if-missing and --always go with --background"),
        (["--label", "pizza", "--always"], "--if-missing and --always go with --background"),
        (["--query", "x", "--engines", "altavista"], "unknown engine(s) altavista"),
        (["--query", "x", "--engine-url", "bing"], "expected ENGINE=http"),
        (["--label", "sushi"], "unknown label 'sushi'"),
    ],
)
def test_bad_input_is_one_clear_line(capsys, tmp_path: Path, args: list[str], message: str):
    code, _, err = scrape(capsys, *args, "--store", str(tmp_path / "s"))
    assert code != 0 and message in err and "Traceback" not in err


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.toml"
    path.write_text(LABELS)
    return path


def seed(store: str, slug: str) -> str:
    """One stored image of a query, as an earlier scrape left it; its key."""
    key = layout.image_key(slug, "a" * 64, "jpg")
    open_store(store).put_bytes(key, b"an image")
    return key


def scrape_pool(capsys, site: str, labels: Path, store: str, *flags: str):
    return scrape(
        capsys,
        *("--background", *flags, "--labels-file", str(labels), "--store", store),
        *("--engines", "yahoo", "--max", "6", "--engine-url", f"yahoo={site}/yahoo"),
    )


def table_queries(out: str) -> list[str]:
    """The query column of the summary table's rows."""
    lines = out.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("query "))
    return [line.split("  ")[0] for line in lines[header + 1 : -1]]


def test_background_scrapes_every_pool_query(capsys, site: str, labels: Path, tmp_path) -> None:
    store = str(tmp_path / "s")
    seed(store, "cake-slice")  # a query with images is scraped again all the same

    code, out, err = scrape_pool(capsys, site, labels, store)

    assert code == 0, err
    assert out.splitlines()[0] == "background pool: scraping its 3 queries"
    assert table_queries(out) == ["pasta dish", "fruit bowl", "cake slice"]
    counts = pool_status(open_store(store), load_background(labels)).counts
    assert counts["pasta dish"] > 0 and counts["fruit bowl"] > 0 and counts["cake slice"] > 1
    assert list(open_store(store).list("images/pizza/")) == []  # the pool, not the labels


def test_if_missing_does_nothing_when_the_store_has_the_pool(
    capsys, labels: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "s")
    seeded = [seed(store, "pasta-dish"), seed(store, "cake-slice")]  # 2 of 3: half or more
    # No browser may start: a Chromium that is not there would fail the run.
    code, out, err = scrape(
        capsys,
        *("--background", "--if-missing", "--labels-file", str(labels), "--store", store),
        *("--chromium", str(tmp_path / "no-chromium")),
    )
    assert code == 0, err
    assert out.strip() == (
        f"background pool present in {open_store(store).uri}: 2 of 3 pool queries have images "
        "(2 images); nothing to scrape"
    )
    assert list(open_store(store).list()) == sorted(seeded)


def test_if_missing_scrapes_the_queries_without_images_when_the_pool_is_missing(
    capsys, site: str, labels: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "s")
    seeded = seed(store, "cake-slice")  # 1 of 3: less than half

    code, out, err = scrape_pool(capsys, site, labels, store, "--if-missing")

    assert code == 0, err
    assert out.splitlines()[0].startswith(f"background pool missing in {open_store(store).uri}: ")
    assert out.splitlines()[0].endswith("2 needed; scraping the 2 without images")
    assert table_queries(out) == ["pasta dish", "fruit bowl"]
    assert list(open_store(store).list(layout.query_prefix("cake-slice"))) == [seeded]
    status = pool_status(open_store(store), load_background(labels))
    assert status.present and not status.empty


def test_background_without_a_pool_in_the_labels_file_is_one_line(capsys, tmp_path: Path) -> None:
    no_pool = tmp_path / "labels.toml"
    no_pool.write_text('[pizza]\npositive = ["pizza"]\nnegative = ["salad"]\n')
    args = ("--labels-file", str(no_pool), "--store", str(tmp_path / "s"))
    code, _, err = scrape(capsys, "--background", *args)
    assert code != 0 and "no [background] table with queries" in err
    assert "Traceback" not in err
    # --if-missing (the pipeline's step) has nothing to do, and says so
    code, out, _ = scrape(capsys, "--background", "--if-missing", *args)
    assert code == 0 and "has no [background] queries; nothing to do" in out
