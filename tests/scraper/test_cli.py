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


def test_prints_a_summary_table(capsys, site: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRAYGO_TEST_ALLOW_LOOPBACK_FETCH", "1")  # the image hosts are local
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
    header, row = out.strip().splitlines()[-2:]
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
