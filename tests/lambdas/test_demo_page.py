"""The demo page in real headless Chromium: a tray picture in; outlines, bars, model cards out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import schemathesis
from PIL import Image
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from scraper.browser import chromium
from traygo.registry import Registry
from traygo.store import open_store

from .conftest import BACKBONE, BLUE, BLUE_HEAD, RED, RED_HEAD, metadata, publish_backbone

V1 = "tiny-32-00000001"
VERSIONS = {
    "pizza": "20261201T000000Z-aaaaaaaa",
    "salad": "20261201T000000Z-bbbbbbbb",
    "hot_dog": "20261201T000000Z-cccccccc",
    "fries": "20261201T000000Z-dddddddd",
}
TRAY_METRICS = {"balanced_accuracy": 0.91, "roc_auc": 0.95, "n": 40, "threshold": 0.6}
FALSE_ALARMS = {  # what a head calibrated to a false-alarm target reports on its trays
    "false_alarm_rate": 0.015,
    "other_food_false_alarm_rate": 0.0,
    "recall": 0.84,
    "recall_at_best_balanced_cut": 0.9,
}


def publish_head(registry: Registry, label: str, model: Path, backbone: str, tray: float) -> None:
    """A head with what a model card shows: data counts, validation and tray metrics."""
    meta = metadata(label)
    meta["input"].update(height=32, width=32)
    meta["backbone"] = {"version": backbone, "features": 4}
    meta["dataset"]["counts"] = {label: 12, f"not_{label}": 30}
    meta["dataset"]["background"] = 20
    meta["metrics"] = {"accuracy": 0.95, "balanced_accuracy": 0.93, "roc_auc": 0.97, "n": 42}
    meta["tray"] = {
        "threshold": tray,
        "metrics": dict(TRAY_METRICS, threshold=tray, **FALSE_ALARMS),
        "calibration": {"layout": "canteen", "false_alarm_target": 0.02},
    }
    registry.publish(label, VERSIONS[label], {"model.tflite": model.read_bytes()}, meta)
    registry.promote(label, VERSIONS[label])


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """Overrides conftest's, so its `server` serves these labels: pizza finds red, salad blue;
    hot_dog also looks for red but its tray threshold is above anything the red head scores, so
    it is absent; fries was trained on another backbone, so it cannot answer."""
    from lambdas.inference import api

    root = tmp_path / "store"
    registry = Registry(open_store(str(root)))
    publish_backbone(registry.store, V1, BACKBONE.read_bytes())
    publish_head(registry, "pizza", RED_HEAD, V1, 0.6)
    publish_head(registry, "salad", BLUE_HEAD, V1, 0.5)
    publish_head(registry, "hot_dog", RED_HEAD, V1, 0.9999)
    publish_head(registry, "fries", BLUE_HEAD, "tiny-32-00000002", 0.5)
    monkeypatch.setenv("TRAYGO_STORE", str(root))
    monkeypatch.setenv("TRAYGO_POINTER_TTL", "0.001")
    api.reset()
    yield registry
    api.reset()


@pytest.fixture(scope="module")
def browser(browser_binaries: tuple[str, str]) -> Iterator[Chrome]:
    with chromium(*browser_binaries) as driver:
        yield driver


@pytest.fixture
def tray_png(tmp_path: Path) -> Path:
    """128 px, red item in the bottom-left quadrant, blue items in the other three."""
    img = Image.new("RGB", (128, 128), BLUE)
    img.paste(Image.new("RGB", (64, 64), RED), (0, 64))
    path = tmp_path / "tray.png"
    img.save(path, "PNG")
    return path


def ask(browser: Chrome, server: str, picture: Path, mode: str = "tray") -> WebDriverWait:
    browser.get(server)
    wait = WebDriverWait(browser, 15)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card[data-label=pizza]")))
    browser.find_element(By.CSS_SELECTOR, f"input[name=mode][value={mode}]").click()
    browser.find_element(By.ID, "file").send_keys(str(picture))
    browser.find_element(By.ID, "go").click()
    wait.until(ec.visibility_of_element_located((By.ID, "results")))
    return wait


def outlines(browser: Chrome) -> dict[str, WebElement]:
    return {
        o.get_attribute("data-label"): o for o in browser.find_elements(By.CSS_SELECTOR, ".outline")
    }


def style(browser: Chrome, element: WebElement, *names: str) -> dict[str, str]:
    script = "return arguments[1].map((name) => arguments[0].style[name]);"
    return dict(zip(names, browser.execute_script(script, element, names), strict=True))


def box(browser: Chrome, element: WebElement) -> dict[str, str]:
    return style(browser, element, "left", "top", "width", "height")


def api_answer(server: str, picture: Path, mode: str = "tray") -> requests.Response:
    return requests.post(
        server + "predict",
        params={"mode": mode},
        data=picture.read_bytes(),
        headers={"Content-Type": "image/png"},
        timeout=10,
    )


@pytest.mark.browser
def test_a_tray_shows_where_each_present_item_is(
    browser: Chrome, server: str, tray_png: Path, tmp_path: Path
) -> None:
    ask(browser, server, tray_png)
    found = outlines(browser)
    assert set(found) == {"pizza", "salad"}  # hot_dog is absent, fries unavailable
    assert box(browser, found["pizza"]) == {
        "left": "0%",
        "top": "50%",
        "width": "50%",
        "height": "50%",
    }
    assert found["pizza"].get_attribute("data-region") == "r2c0"
    assert found["pizza"].text == "pizza"
    assert found["salad"].get_attribute("data-region") != "r2c0"
    # the percentages land on the picture as displayed: the bottom-left quarter of the image
    image = browser.find_element(By.ID, "preview").rect
    outline = found["pizza"].rect
    assert outline["x"] == pytest.approx(image["x"], abs=1)
    assert outline["y"] == pytest.approx(image["y"] + image["height"] / 2, abs=1)
    assert outline["width"] == pytest.approx(image["width"] / 2, abs=1)
    assert outline["height"] == pytest.approx(image["height"] / 2, abs=1)
    colours = {o.value_of_css_property("border-top-color") for o in found.values()}
    assert len(colours) == 2
    browser.save_screenshot(str(tmp_path / "tray-page.png"))


@pytest.mark.browser
def test_every_label_gets_a_probability_bar_against_its_threshold(
    browser: Chrome, server: str, tray_png: Path
) -> None:
    ask(browser, server, tray_png)
    for p in api_answer(server, tray_png).json()["predictions"]:
        row = browser.find_element(By.CSS_SELECTOR, f"tr[data-label={p['label']}]")
        fill = style(browser, row.find_element(By.CSS_SELECTOR, ".fill"), "width")["width"]
        tick = style(browser, row.find_element(By.CSS_SELECTOR, ".tick"), "left")["left"]
        assert float(fill.removesuffix("%")) == pytest.approx(100 * p["probability"])
        assert float(tick.removesuffix("%")) == pytest.approx(100 * p["threshold"])
        assert ("present" in row.get_attribute("class")) is p["present"]
        assert row.find_elements(By.TAG_NAME, "td")[1].text == ("yes" if p["present"] else "no")
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-label=fries]")
    unavailable = browser.find_element(By.CSS_SELECTOR, "#unavailable li[data-label=fries]")
    assert "retrain fries on the current backbone" in unavailable.text


@pytest.mark.browser
def test_model_cards_show_version_data_metrics_and_thresholds(
    browser: Chrome, server: str, tray_png: Path
) -> None:
    ask(browser, server, tray_png)
    cards = {
        c.get_attribute("data-label"): c.text
        for c in browser.find_elements(By.CSS_SELECTOR, ".card")
    }
    assert set(cards) == set(VERSIONS)
    for label, version in VERSIONS.items():
        assert version in cards[label]
        assert f"{label} 12, not_{label} 30" in cards[label]
    pizza = cards["pizza"]
    assert "balanced accuracy 0.930, ROC AUC 0.970, n 42" in pizza
    assert "photo threshold\n0.500" in pizza and "tray threshold\n0.600" in pizza
    assert "on trays\nbalanced accuracy 0.910, ROC AUC 0.950, n 40" in pizza
    assert "background pool\n20 photos of other food" in pizza
    assert "false alarms\n1.5% of trays without it (target 2.0%), 0.0% on other food alone" in pizza
    assert "tray recall\n84.0%; 90.0% at the best balanced cut" in pizza


@pytest.mark.browser
def test_the_photo_switch_scores_the_whole_picture(
    browser: Chrome, server: str, tray_png: Path
) -> None:
    ask(browser, server, tray_png, mode="photo")
    summary = browser.find_element(By.ID, "summary")
    assert summary.get_attribute("data-mode") == "photo"  # what the API says it was asked
    assert summary.text == "Scored as one dish: salad."
    found = outlines(browser)
    # a quarter of the picture is red: averaged over the whole, pizza is no longer found
    assert set(found) == {"salad"}
    assert found["salad"].get_attribute("data-region") == "whole"
    assert box(browser, found["salad"]) == {
        "left": "0%",
        "top": "0%",
        "width": "100%",
        "height": "100%",
    }


@pytest.mark.browser
def test_big_photos_are_sent_as_a_1024_px_jpeg(
    browser: Chrome, server: str, tmp_path: Path
) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    big = tmp_path / "big.png"
    Image.fromarray(noise).save(big)
    assert big.stat().st_size > 1024 * 1024  # over the page's SMALL_ENOUGH
    browser.get(server)
    browser.find_element(By.ID, "file").send_keys(str(big))
    sent = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        downsized(document.getElementById("file").files[0]).then(async (blob) => {
          const bitmap = await createImageBitmap(blob);
          done([blob.type, blob.size, bitmap.width, bitmap.height]);
        });"""
    )
    assert sent[0] == "image/jpeg" and sent[1] < big.stat().st_size
    assert sent[2:] == [1024, 768]


def test_tray_answers_and_model_cards_keep_to_the_published_schema(
    server: str, tray_png: Path
) -> None:
    schema = schemathesis.openapi.from_url(server + "openapi.json")
    for mode in ("tray", "photo"):
        answer = api_answer(server, tray_png, mode)
        assert answer.status_code == 200 and answer.json()["unavailable"]
        schema["/predict"]["POST"].validate_response(answer)
    cards = requests.get(server + "models", timeout=10)
    assert cards.json()["models"][0]["tray_metrics"]
    schema["/models"]["GET"].validate_response(cards)
