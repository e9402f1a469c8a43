"""The web UI in a real browser (headless Chromium through Selenium): the
quickstart's runs in the table, the filter language and its caret error,
a run's page, curves of selected runs compared, a live run watched until
it is stopped from the page. With EXPMAN_UI_SCREENSHOTS=DIR set, each view
is saved there as a PNG (docs/screenshots.sh uses it for the README)."""

import json
import os
import pathlib
import subprocess
import urllib.parse
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import EXPMAN, FAKE_TRIAL

SHOTS = os.environ.get("EXPMAN_UI_SCREENSHOTS")


def shot(driver, name):
    if SHOTS:
        pathlib.Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(pathlib.Path(SHOTS) / f"ui-{name}.png"))


def wait(driver, what, timeout=20):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: what(d))
    except Exception:
        state = driver.execute_script(
            "return [location.hash, (document.getElementById('runs-count') || {}).textContent,"
            " (document.getElementById('filter-error') || {}).textContent,"
            " (document.getElementById('filter-input') || {}).value]")
        raise AssertionError(f"waited {timeout} s; page state: {state}")


def text_of(driver, css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def open_runs(driver, server):
    """The runs view from a clean session (no filter, selection or columns kept)."""
    driver.get(server.url + "#/runs")
    driver.execute_script("sessionStorage.clear()")
    driver.refresh()
    wait(driver, lambda d: text_of(d, "#runs-count").startswith("22 of 22 runs"))


def test_the_runs_table_shows_the_quickstart(browser, server):
    open_runs(browser, server)
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs-table .run-row")
    assert len(rows) == 22
    statuses = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#runs-table .run-row [class*='status-']")}
    assert {"SUCCESS", "EARLY_STOPPED", "PRUNED"} <= statuses, statuses
    headers = [e.get_attribute("data-col") for e in browser.find_elements(By.CSS_SELECTOR, "[data-col]")]
    assert "metrics.val_loss" in headers, headers
    shot(browser, "runs")


def test_filter_and_its_caret_error(browser, server):
    open_runs(browser, server)
    box = browser.find_element(By.ID, "filter-input")
    # How many the search pruned varies from run to run: ask the API.
    query = urllib.parse.urlencode({"filter": "status = 'PRUNED'", "limit": 1})
    with urllib.request.urlopen(f"{server.url}api/runs?{query}") as answer:
        pruned = json.load(answer)["matched"]
    assert pruned > 0
    box.send_keys("status = 'PRUNED'", Keys.ENTER)
    wait(browser, lambda d: text_of(d, "#runs-count").startswith(f"{pruned} of 22"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#runs-table .run-row")) == pruned
    box.clear()
    box.send_keys("metrics.val_los < 1", Keys.ENTER)
    wait(browser, lambda d: "^" in text_of(d, "#filter-error"))
    error = text_of(browser, "#filter-error")
    assert "metrics.val_loss" in error, error
    assert "invalid" in box.get_attribute("class")
    box.clear()
    box.send_keys("metrics.val_loss < 0.3 order by metrics.val_loss", Keys.ENTER)
    wait(browser, lambda d: text_of(d, "#filter-error") == "" and " of 22" in text_of(d, "#runs-count")
         and not d.find_element(By.ID, "filter-input").get_attribute("class").count("invalid"))


def test_a_run_page(browser, server):
    open_runs(browser, server)
    link = browser.find_element(By.CSS_SELECTOR, "#runs-table .run-row a.run-link")
    run_id = link.text.strip()
    link.click()
    wait(browser, lambda d: d.current_url.endswith(f"#/run/{run_id}") and text_of(d, "#run-status"))
    wait(browser, lambda d: '"training"' in text_of(d, "#run-config"))
    assert text_of(browser, "#run-status") in {"SUCCESS", "EARLY_STOPPED", "PRUNED"}
    assert "val_loss" in text_of(browser, "#run-metrics")
    links = browser.find_elements(By.CSS_SELECTOR, "#run-artifacts a[download]")
    assert links, "the checkpoints are downloadable"
    shot(browser, "run")


def test_compare_curves_of_selected_runs(browser, server):
    open_runs(browser, server)
    for box in browser.find_elements(By.CSS_SELECTOR, "#runs-table .run-row .row-check")[:4]:
        box.click()
    before = browser.execute_script("return document.body.dataset.curveDrawn || ''")
    browser.find_element(By.ID, "compare-button").click()
    wait(browser, lambda d: "#/compare" in d.current_url)
    wait(browser, lambda d: (d.execute_script("return document.body.dataset.curveDrawn || ''") or "") != before
         and int(d.find_element(By.ID, "curve-chart").get_attribute("data-points") or 0) > 0)
    assert int(browser.find_element(By.ID, "curve-chart").get_attribute("data-points")) >= 4 * 2
    shot(browser, "compare")
    drawn = browser.execute_script("return document.body.dataset.curveDrawn")
    browser.execute_script(
        "const s = document.getElementById('by-picker'); s.value = 'trial'; s.dispatchEvent(new Event('change'));")
    wait(browser, lambda d: d.execute_script("return document.body.dataset.curveDrawn") != drawn)
    assert int(browser.find_element(By.ID, "scatter-chart").get_attribute("data-points") or 0) > 0


def test_a_live_run_changes_status_when_stopped(browser, server, quickstart, tmp_path):
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "env.yaml").write_text(f"workspace: {quickstart / 'outputs'}\n")
    (slow / "experiment.yaml").write_text("name: slow\n")
    (slow / "base.yaml").write_text(
        f"pipeline: {{command: [{FAKE_TRIAL}, --epochs, 600, --sleep-ms, 100, --respect-stop]}}\n")
    (slow / "trials.yaml").write_text("- name: long\n")
    browser.get(server.url + "#/live")
    runner = subprocess.Popen([str(EXPMAN), "run", str(slow)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        badge = "#live-table .live-status"
        wait(browser, lambda d: text_of(d, badge) == "RUNNING", timeout=30)
        run_id = browser.find_element(By.CSS_SELECTOR, badge).get_attribute("data-id")
        wait(browser, lambda d: "loss" in text_of(d, "#live-table"), timeout=30)
        shot(browser, "live")
        browser.find_element(By.CSS_SELECTOR, f".stop-button[data-id='{run_id}']").click()
        wait(browser, lambda d: "asked its runner" in text_of(d, "#live-message"))
        ended = f".live-status[data-id='{run_id}']"
        wait(browser, lambda d: text_of(d, ended) == "KILLED", timeout=30)
        assert runner.wait(timeout=30) is not None
    finally:
        if runner.poll() is None:
            runner.terminate()
            runner.wait(timeout=30)


def test_search_view(browser, server):
    browser.get(server.url + "#/search")
    wait(browser, lambda d: "tune" in text_of(d, "#search-list"))
    assert "val_loss" in text_of(browser, "#search-list")
    shot(browser, "search")
