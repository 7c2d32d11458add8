"""The demo page in real headless Chromium: a tray picture in; outlines, bars, model cards out;
corrections of the answer back in (POST /feedback)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import schemathesis
from PIL import Image
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from scraper.browser import chromium
from traygo import layout
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


# Records what each fetch() of the page got back, as the page itself received it.
SPY = """window.answers = [];
const original = window.fetch;
window.fetch = async (...args) => {
  const response = await original(...args);
  const body = await response.clone().json().catch(() => null);
  window.answers.push({url: String(args[0]), status: response.status, body});
  return response;
};"""


def ask(
    browser: Chrome, server: str, picture: Path, mode: str = "tray", spy: bool = False
) -> WebDriverWait:
    browser.get(server)
    wait = WebDriverWait(browser, 15)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card[data-label=pizza]")))
    if spy:
        browser.execute_script(SPY)
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
    assert "its backbone tiny-32-00000002 cannot serve: it is not in the store" in unavailable.text


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


def answers(browser: Chrome, route: str) -> list[dict[str, Any]]:
    """What the page's fetch() calls of `route` got back, in order."""
    seen: list[dict[str, Any]] = browser.execute_script("return window.answers;")
    return [a for a in seen if a["url"].split("?")[0].endswith(f"/{route}")]


def mark(browser: Chrome, label: str, verdict: str) -> WebElement:
    button = browser.find_element(
        By.CSS_SELECTOR, f"tr[data-label={label}] button[data-mark={verdict}]"
    )
    button.click()
    return button


def pressed(browser: Chrome, label: str) -> dict[str, str | None]:
    buttons = browser.find_elements(By.CSS_SELECTOR, f"tr[data-label={label}] button[data-mark]")
    return {b.get_attribute("data-mark"): b.get_attribute("aria-pressed") for b in buttons}


def send(browser: Chrome, wait: WebDriverWait, expect: str) -> str:
    browser.find_element(By.ID, "send").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "feedback-status"), expect))
    return browser.find_element(By.ID, "feedback-status").text


def stored(registry: Registry, prefix: str) -> list[str]:
    return sorted(registry.store.list(prefix))


@pytest.mark.browser
def test_a_correction_is_sent_with_the_picture_and_saved_once(
    browser: Chrome, server: str, registry: Registry, tray_png: Path
) -> None:
    wait = ask(browser, server, tray_png, spy=True)
    send_button = browser.find_element(By.ID, "send")
    assert not send_button.is_enabled()  # nothing marked yet
    # the answer: pizza and salad yes, hot_dog no, fries unavailable (no row to mark)
    mark(browser, "pizza", "wrong")  # said present: really absent
    assert pressed(browser, "pizza") == {"right": "false", "wrong": "true"}
    assert send_button.is_enabled()
    wrong = browser.find_element(By.CSS_SELECTOR, "tr[data-label=hot_dog] button[data-mark=wrong]")
    wrong.send_keys(Keys.SPACE)  # by keyboard: said absent, really present
    assert pressed(browser, "hot_dog") == {"right": "false", "wrong": "true"}
    mark(browser, "hot_dog", "right")  # changed my mind, then back: one mark per row
    assert pressed(browser, "hot_dog") == {"right": "true", "wrong": "false"}
    mark(browser, "hot_dog", "wrong")
    # salad is left unmarked: unsure
    assert pressed(browser, "salad") == {"right": "false", "wrong": "false"}

    status = send(browser, wait, "saved")
    records = stored(registry, layout.FEEDBACK_RECORDS)
    assert len(records) == 1
    record = registry.store.get_json(records[0])
    assert status == f"Thanks: correction saved (id {record['id']})."
    assert record["truth"] == {
        "present": ["hot_dog"],
        "absent": ["pizza"],
        "unsure": ["fries", "salad"],  # fries could not answer, so it was not judged either
    }
    (predicted,) = answers(browser, "predict")
    assert predicted["status"] == 200 and predicted["body"]["request_id"]
    assert record["corrects"] == predicted["body"]["request_id"]
    sha = hashlib.sha256(tray_png.read_bytes()).hexdigest()
    assert stored(registry, layout.FEEDBACK_IMAGES) == [layout.feedback_image_key(sha, "png")]
    assert hashlib.sha256(registry.store.get_bytes(record["image"]["key"])).hexdigest() == sha
    assert record["image"]["sha256"] == sha and record["image"]["source"] == "body"
    assert [a["status"] for a in answers(browser, "feedback")] == [201]

    assert send(browser, wait, "Already saved") == f"Already saved (id {record['id']})."
    assert stored(registry, layout.FEEDBACK_RECORDS) == records
    assert [a["status"] for a in answers(browser, "feedback")] == [201, 200]

    mark(browser, "pizza", "wrong")  # pressed again: unmarked; a mark still stands
    assert pressed(browser, "pizza") == {"right": "false", "wrong": "false"}
    assert browser.find_element(By.ID, "feedback-status").text == ""  # about the old marks
    mark(browser, "hot_dog", "wrong")
    assert not send_button.is_enabled()  # nothing marked: nothing to send


@pytest.mark.browser
def test_a_refused_correction_shows_why_and_stores_nothing(
    browser: Chrome, server: str, registry: Registry, tray_png: Path
) -> None:
    wait = ask(browser, server, tray_png, spy=True)
    # hot_dog goes off the air between the answer and its correction: the page sends it as
    # unsure (unmarked), a label no longer live
    registry.store.delete(layout.live_key("hot_dog"))
    mark(browser, "pizza", "wrong")
    status = send(browser, wait, "no live model for hot_dog")
    assert "name only live labels (GET /models lists them)" in status  # the hint
    assert browser.find_element(By.ID, "feedback-status").get_attribute("class") == "failed"
    (refused,) = answers(browser, "feedback")
    assert refused["status"] == 422 and refused["body"]["error"]["code"] == "unknown_label"
    assert stored(registry, layout.FEEDBACK) == []
    assert browser.find_element(By.ID, "send").is_enabled()  # free to try again


def test_corrections_keep_to_the_published_schema(server: str, tray_png: Path) -> None:
    schema = schemathesis.openapi.from_url(server + "openapi.json")
    operation = schema["/feedback"]["POST"]
    predicted = api_answer(server, tray_png).json()["request_id"]
    sent = {"present": "pizza,hot_dog", "unsure": "fries", "corrects": predicted}
    for expected in (201, 200):  # raw bytes, the truth in the query string: the page's way
        answer = requests.post(
            server + "feedback",
            params=sent,
            data=tray_png.read_bytes(),
            headers={"Content-Type": "image/png"},
            timeout=10,
        )
        assert answer.status_code == expected, answer.text
        operation.validate_response(answer)
    assert answer.json()["record"]["corrects"] == predicted
    image = base64.b64encode(tray_png.read_bytes()).decode()
    doc = {"image": image, "present": ["pizza", "hot_dog"], "unsure": ["fries"]}
    again = requests.post(server + "feedback", json=doc, timeout=10)
    assert again.status_code == 200  # the same picture and truth, sent as JSON
    assert again.json()["id"] == answer.json()["id"]
    operation.validate_response(again)
    refused = requests.post(server + "feedback", json=dict(doc, unsure=["pizza"]), timeout=10)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "conflicting_truth"
    operation.validate_response(refused)
