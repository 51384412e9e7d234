"""A real browser on the demo: headless Chromium uploads photos and reads the rendered cards."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from synth2real.data import manifests
from synth2real.predict import Predictor

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module, on the session's demo server (`demo_url`)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium/chromedriver not installed: run `make system-deps`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(flag)
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def test_upload_shows_both_predictions(browser, demo_url, tiny_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    rows = manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")
    photos = [rows[0]["path"], rows[12]["path"], rows[25]["path"]]  # dog, cat, bird slices
    expected = {role: [p.top_class for p in
                       Predictor(tiny_run / "models" / f"{role}.onnx").predict_files(photos)]
                for role in ("baseline", "adapted")}

    browser.get(demo_url)
    wait = WebDriverWait(browser, 120)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=file]")))
    assert "Does domain adaptation change the answer?" in browser.page_source
    upload.send_keys("\n".join(photos))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#s2r-results .s2r-card")) == 3)

    cards = browser.find_elements(By.CSS_SELECTOR, "#s2r-results .s2r-card")
    for role in ("baseline", "adapted"):
        shown = [c.find_element(By.CSS_SELECTOR, f'[data-role="{role}"] .s2r-top')
                 .get_attribute("data-top") for c in cards]
        assert shown == expected[role]
        texts = [c.find_element(By.CSS_SELECTOR, f'[data-role="{role}"] .s2r-top').text
                 for c in cards]
        assert all(t.startswith(cls) and "%" in t for t, cls in zip(texts, expected[role]))
    for card, b, a in zip(cards, expected["baseline"], expected["adapted"]):
        verdict = card.find_element(By.CSS_SELECTOR, ".s2r-verdict").text
        assert ("disagree" in verdict) == (a != b)
        assert ("s2r-disagree" in card.get_attribute("class")) == (a != b)
    assert [c.get_attribute("data-file") for c in cards] == [Path(p).name for p in photos]
    # The explanation shows both test accuracies from the ONNX metadata.
    for role in ("baseline", "adapted"):
        acc = float(Predictor(tiny_run / "models" / f"{role}.onnx").metadata["test_accuracy"])
        assert f"{acc:.1%}" in browser.find_element(By.TAG_NAME, "body").text

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, max(1000, int(height) + 40))
    shot = Path(os.environ.get("DEMO_SCREENSHOT", tmp_path / "demo.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_clicking_an_example_compares_it(browser, demo_url, tiny_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(demo_url)
    wait = WebDriverWait(browser, 120)
    thumbs = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".gallery-item"))
    assert len(thumbs) == 6  # 2 per class from the run's real test set
    thumbs[0].click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#s2r-results .s2r-card"))
    card = browser.find_element(By.CSS_SELECTOR, "#s2r-results .s2r-card")
    assert card.get_attribute("data-file") == "dog-0.jpg"
    for role in ("baseline", "adapted"):
        top = card.find_element(By.CSS_SELECTOR, f'[data-role="{role}"] .s2r-top')
        assert top.get_attribute("data-top") in ("dog", "cat", "bird")
