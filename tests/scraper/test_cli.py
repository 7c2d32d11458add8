"""`traygo scrape` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from traygo.cli import main

from .fixture_site import engine_urls


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
        ([], "give --query (one or more) or --label"),
        (["--query", "x", "--engines", "altavista"], "unknown engine(s) altavista"),
        (["--query", "x", "--engine-url", "bing"], "expected ENGINE=http"),
        (["--label", "sushi"], "unknown label 'sushi'"),
    ],
)
def test_bad_input_is_one_clear_line(capsys, tmp_path: Path, args: list[str], message: str):
    code, _, err = scrape(capsys, *args, "--store", str(tmp_path / "s"))
    assert code != 0 and message in err and "Traceback" not in err
