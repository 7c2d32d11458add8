"""`traygo serve` as users meet it: a real HTTP server, a real browser, real concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from lambdas.inference import api

from .conftest import BLUE, RED, image_bytes


def post(url: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_binary_bodies_travel_as_api_gateway_sends_them(server: str) -> None:
    status, answer = post(server + "predict", image_bytes(RED, "JPEG"), "image/jpeg")
    assert status == 200
    assert {p["label"]: p["present"] for p in answer["predictions"]} == {
        "burger": True,
        "pizza": True,
    }


def test_bodies_over_the_lambda_limit_are_refused(server: str, monkeypatch) -> None:
    monkeypatch.setenv("TRAYGO_MAX_REQUEST_BYTES", "2048")
    api.reset()  # settings are resolved once per execution environment
    status, answer = post(server + "predict", b"\xff" * 4096, "image/jpeg")
    assert (status, answer["error"]["code"]) == (413, "too_large")


def test_demo_page_in_headless_chromium(
    server: str, tmp_path: Path, browser_binaries: tuple[str, str]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from scraper.browser import chromium

    picture = tmp_path / "tray.png"
    picture.write_bytes(image_bytes(BLUE))
    with chromium(*browser_binaries) as driver:
        driver.get(server)
        assert "What is on the tray?" in driver.page_source
        driver.find_element(By.ID, "go").click()
        wait = WebDriverWait(driver, 15)
        wait.until(ec.text_to_be_present_in_element((By.ID, "error"), "Paste an image URL"))
        driver.find_element(By.ID, "file").send_keys(str(picture))
        driver.find_element(By.ID, "go").click()
        row = wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "tr[data-label=pizza]"))
        )
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        assert cells[0] == "pizza" and cells[1] == "no" and cells[2].endswith("%")
        assert driver.find_element(By.ID, "preview").get_attribute("src").startswith("blob:")


LOAD = """
import concurrent.futures, json, sys, urllib.request
url, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = open(path, "rb").read()
def one(_):
    req = urllib.request.Request(url, body, {"Content-Type": "image/png"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, len(json.loads(r.read())["predictions"])
with concurrent.futures.ThreadPoolExecutor(32) as pool:
    results = list(pool.map(one, range(n)))
print(json.dumps({"ok": sum(r == (200, 2) for r in results), "n": len(results)}))
"""


def test_concurrent_load_loses_nothing_and_does_not_grow(server: str, tmp_path: Path) -> None:
    import psutil

    picture = tmp_path / "tray.png"
    picture.write_bytes(image_bytes(RED, size=256))

    def load(n: int) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", LOAD, server + "predict", str(picture), str(n)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": ""},
        )
        assert out.returncode == 0, out.stderr[-1500:]
        return json.loads(out.stdout)

    assert load(100) == {"ok": 100, "n": 100}  # warm-up: models loaded, pools filled
    before = psutil.Process().memory_info().rss
    assert load(300) == {"ok": 300, "n": 300}
    grown = psutil.Process().memory_info().rss - before
    assert grown < 30 * 1024 * 1024, f"RSS grew {grown / 2**20:.1f} MiB over 300 requests"
