"""The web UI benchmark's browser side: Debian's headless Chromium through
Selenium (the test virtualenv's), timing what a person waits for.

expman (`--expman URL --long-run ID`), each the median of `--repeat`:
  - navigation -> the runs table's first rows in the DOM and painted
    (a MutationObserver installed before the page's own script, timed with
    performance.now(), i.e. from the start of navigation);
  - a filter round trip: Enter in the filter box -> the new count shown;
  - the 1,000,000-point curve: choosing the metric -> the chart drawn
    (the page's `curveDrawn` mark), and navigation -> drawn.
MLflow (`--mlflow URL --mlflow-experiment ID`): navigation to the
experiment's page -> its runs table's first row.

Prints one line per figure; benches/ui_vs_mlflow.sh runs it."""

import argparse
import shutil
import statistics
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

FIRST_ROW_PROBE = """
window.__firstRow = null;
new MutationObserver((_, observer) => {
  if (window.__firstRow === null && document.querySelector(arguments_selector)) {
    const seen = performance.now();
    window.__firstRow = seen;
    requestAnimationFrame(() => requestAnimationFrame(() => { window.__painted = performance.now(); }));
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(600)
    driver.set_script_timeout(600)
    return driver


def until(driver, check, timeout=600):
    return WebDriverWait(driver, timeout, poll_frequency=0.01).until(lambda d: check(d))


def first_rows(driver, url, selector):
    """ms from navigation start to the first element matching `selector`
    in the DOM, and to the frame after it (painted)."""
    probe = driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": FIRST_ROW_PROBE.replace("arguments_selector", repr(selector))},
    )
    driver.get("about:blank")
    driver.get(url)
    until(driver, lambda d: d.execute_script("return window.__painted || null"))
    seen, painted = driver.execute_script("return [window.__firstRow, window.__painted]")
    driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": probe["identifier"]})
    return seen, painted


FILTER_ROUND_TRIP = """
const [text, done] = [arguments[0], arguments[arguments.length - 1]];
const count = document.getElementById('runs-count');
const before = count.textContent;
const input = document.getElementById('filter-input');
const started = performance.now();
new MutationObserver((_, observer) => {
  if (count.textContent !== before) { observer.disconnect(); done(performance.now() - started); }
}).observe(count, {childList: true, characterData: true, subtree: true});
input.value = text;
input.dispatchEvent(new Event('input', {bubbles: true}));
input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
"""

CURVE = """
const [metric, done] = [arguments[0], arguments[arguments.length - 1]];
const picker = document.getElementById('metric-picker');
const before = document.body.dataset.curveDrawn || '';
const started = performance.now();
const poll = () => {
  if ((document.body.dataset.curveDrawn || '') !== before) {
    done([performance.now() - started, document.getElementById('curve-chart').dataset.points]);
  } else { setTimeout(poll, 1); }
};
picker.value = metric;
picker.dispatchEvent(new Event('change', {bubbles: true}));
poll();
"""


def median(values):
    return statistics.median(values)


def expman(driver, url, long_run, repeat):
    seen, painted = zip(*(first_rows(driver, url + "#/runs", "#runs-table .run-row") for _ in range(repeat)))
    count = driver.find_element("id", "runs-count").text
    print(f"expman: navigation -> first rows in the DOM: {median(seen):.0f} ms, painted: {median(painted):.0f} ms ({count})")
    trips = []
    for i in range(repeat):
        # Different filters, so no answer is the previous one.
        trips.append(driver.execute_async_script(FILTER_ROUND_TRIP, f"metrics.m0 < 0.{5 + i % 4} and params.p3 = 'v{i % 13}'"))
        trips.append(driver.execute_async_script(FILTER_ROUND_TRIP, ""))
    print(f"expman: filter round trip (Enter -> new count shown): {median(trips):.0f} ms "
          f"(min {min(trips):.0f}, max {max(trips):.0f}, {len(trips)} trips)")
    compare = f"{url}#/compare?runs={long_run}"
    draws, loads = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        driver.get("about:blank")
        driver.get(compare)
        until(driver, lambda d: d.execute_script("return document.body.dataset.curveDrawn || null")
              and d.execute_script("return document.getElementById('metric-picker').value") != "")
        loads.append((time.perf_counter() - started) * 1000)
        other = "m1" if driver.execute_script("return document.getElementById('metric-picker').value") == "loss" else "loss"
        driver.execute_async_script(CURVE, other)
        took, points = driver.execute_async_script(CURVE, "loss")
        draws.append(took)
    print(f"expman: the 1,000,000-point curve, metric chosen -> drawn: {median(draws):.0f} ms "
          f"({points} points drawn); navigation -> first curve drawn: {median(loads):.0f} ms")


def mlflow(driver, url, experiment, repeat):
    page = f"{url}/#/experiments/{experiment}/runs"
    selectors = ".ag-center-cols-container .ag-row, [role='row'] a[href*='/runs/']"
    times = [first_rows(driver, page, selectors) for _ in range(repeat)]
    seen, painted = zip(*times)
    print(f"mlflow: navigation -> first run row in the DOM: {median(seen):.0f} ms, painted: {median(painted):.0f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--expman")
    parser.add_argument("--long-run")
    parser.add_argument("--mlflow")
    parser.add_argument("--mlflow-experiment")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    driver = browser()
    try:
        if args.expman:
            expman(driver, args.expman.rstrip("/") + "/", args.long_run, args.repeat)
        if args.mlflow:
            mlflow(driver, args.mlflow.rstrip("/"), args.mlflow_experiment, args.repeat)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
