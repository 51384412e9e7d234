"""A real browser on the demo: headless Chromium uploads photos, clicks the examples, clears,
and reads the rendered page at a desktop width (1400 px) and a phone width (420 px).

Screenshots go to $DEMO_SCREENSHOTS (a folder; default: the test's tmp folder)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from synth2real.data import manifests
from synth2real.predict import Predictor

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ROLES = ("baseline", "study", "adapted")
WAIT_S = 120

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


@pytest.fixture(scope="module")
def card(tiny_run) -> dict:
    return json.loads((tiny_run / "models" / "card.json").read_text())


@pytest.fixture(scope="module")
def predictors(tiny_run, card) -> dict[str, Predictor]:
    return {r: Predictor(tiny_run / "models" / card["models"][r]["onnx"]) for r in ROLES}


def _wait(browser):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S)


def _cards(browser):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, "#s2r-results [data-file]")


def _screenshot(browser, name: str, width: int, tmp_path: Path) -> Path:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, int(height) + 60)
    folder = Path(os.environ.get("DEMO_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"{name}-{width}.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    browser.set_window_size(width, 1000)
    return shot


def _no_inner_scrollbars(browser) -> list[str]:
    """Visible elements of the page that scroll inside it (the upload list, the gallery and
    the rest should show everything; only the page itself scrolls)."""
    return browser.execute_script("""
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
          if (el.offsetParent === null || el.clientHeight === 0 || el.clientWidth === 0) continue;
          const s = getComputedStyle(el);
          // 'scroll' shows a scrollbar even over nothing; 'auto' when the content overflows.
          const scrollsY = s.overflowY === 'scroll' || (s.overflowY === 'auto' && el.scrollHeight > el.clientHeight + 1);
          const scrollsX = s.overflowX === 'scroll' || (s.overflowX === 'auto' && el.scrollWidth > el.clientWidth + 1);
          if (scrollsY || scrollsX) out.push(el.className);
        }
        return out;""")


@pytest.mark.parametrize("width", [1400, 420])
def test_upload_shows_three_models_and_clearing_removes_them(browser, demo_url, tiny_run, card,
                                                            predictors, tmp_path, width):
    from selenium.webdriver.common.by import By

    rows = manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")
    photos = [rows[0]["path"], rows[12]["path"], rows[25]["path"], rows[29]["path"]]
    expected = {r: [p.top_class for p in predictors[r].predict_files(photos)] for r in ROLES}

    browser.set_window_size(width, 1000)
    browser.get(demo_url)
    upload = _wait(browser).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#s2r-upload input[type=file]"))
    upload.send_keys("\n".join(photos))
    _wait(browser).until(lambda d: len(_cards(d)) == len(photos))

    cards = _cards(browser)
    assert [c.get_attribute("data-file") for c in cards] == [Path(p).name for p in photos]
    for role in ROLES:
        shown = [c.find_element(By.CSS_SELECTOR, f'[data-role="{role}"] .s2r-top')
                 .get_attribute("data-top") for c in cards]
        assert shown == expected[role]
    for i, c in enumerate(cards):
        verdict = c.find_element(By.CSS_SELECTOR, ".s2r-verdict").text
        tops = [expected[r][i] for r in ROLES]
        if len(set(tops)) == 1:
            assert verdict == f"All three say {tops[0]}."  # neutral: no check mark
        else:
            assert verdict.startswith("The models disagree:")
    # Accuracies (two decimals) are said once, in the header; the cards repeat none.
    header = browser.find_element(By.CSS_SELECTOR, "#s2r-header").text
    results = browser.find_element(By.CSS_SELECTOR, "#s2r-results").text
    for role in ROLES:
        acc = f"{card['models'][role]['test_accuracy']:.2%}"
        assert acc in header and acc not in results
    assert card["target_domain"] in header
    assert ("adaptation does not help" in header) == (not card["adaptation_helps"])
    # The adapted variant's gap closure over seeds and the claim on it, as the card says.
    gap = card["models"]["adapted"]["gap_closure"]
    assert f"closes {gap['mean']:.2%}" in header and "of the gap between the baseline" in header
    assert card["deployed_claim"]["verdict"] in header
    # Every uploaded file is listed without a scrollbar; nothing is wider than the window.
    listed = browser.find_elements(By.CSS_SELECTOR, "#s2r-upload .filename")
    assert len(listed) == len(photos) and all(f.is_displayed() for f in listed)
    assert _no_inner_scrollbars(browser) == []
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    _screenshot(browser, "upload", width, tmp_path)

    browser.find_element(By.CSS_SELECTOR, '#s2r-upload button[aria-label="Clear"]').click()
    _wait(browser).until(lambda d: not _cards(d))
    assert "Upload photos" in browser.find_element(By.CSS_SELECTOR, "#s2r-results").text


@pytest.mark.parametrize("width", [1400, 420])
def test_examples_show_true_label_and_right_or_wrong(browser, demo_url, card, predictors,
                                                    tmp_path, width):
    from selenium.webdriver.common.by import By

    browser.set_window_size(width, 1000)
    browser.get(demo_url)
    thumbs = _wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#s2r-examples .gallery-item"))
    assert len(thumbs) == 2 * len(card["classes"])  # 2 per class from the run's real test set
    assert [t.text for t in thumbs] == [c for c in card["classes"] for _ in range(2)]  # captions
    assert _no_inner_scrollbars(browser) == []
    next(b for b in browser.find_elements(By.TAG_NAME, "button")
         if b.text == "Compare all examples").click()
    _wait(browser).until(lambda d: len(_cards(d)) == len(thumbs))

    for c in _cards(browser):
        label = c.find_element(By.CSS_SELECTOR, "[data-label]").get_attribute("data-label")
        assert c.get_attribute("data-file").startswith(f"{label}-")
        assert f"True label: {label}" in c.text
        for role in ROLES:
            top = c.find_element(By.CSS_SELECTOR, f'[data-role="{role}"] .s2r-top')
            mark = top.find_element(By.CSS_SELECTOR, "[data-correct]")
            right = top.get_attribute("data-top") == label
            assert mark.get_attribute("data-correct") == str(right).lower()
            assert mark.text == ("✓" if right else "✗")
    _screenshot(browser, "examples", width, tmp_path)

    thumbs = browser.find_elements(By.CSS_SELECTOR, "#s2r-examples .gallery-item")
    thumbs[-1].click()
    _wait(browser).until(lambda d: len(_cards(d)) == 1)
    (only,) = _cards(browser)
    assert only.get_attribute("data-file").startswith(card["classes"][-1])
