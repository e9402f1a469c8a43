"""Fixtures for the web UI's browser tests: the quickstart recorded in a
scratch copy, `expman ui` serving it on a free port, and Debian's headless
Chromium driven by Selenium through Debian's chromedriver.

Skipped (outside CI) when chromium or chromedriver is missing; tests/run.sh
installs both with apt-get as root, and on CI they must be there."""

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
EXPMAN = pathlib.Path(os.environ.get("EXPMAN_BIN") or REPO / "target" / "debug" / "expman")
FAKE_TRIAL = EXPMAN.parent / "fake-trial"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def expman(*args, cwd, timeout=300):
    out = subprocess.run([str(EXPMAN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"expman {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


class UiServer:
    """`expman ui` on 127.0.0.1 and a free port; stopped by its PID."""

    def __init__(self, config_dir, *extra):
        self.proc = subprocess.Popen(
            [str(EXPMAN), "ui", "--dir", str(config_dir), "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), f"no URL from expman ui: {self.url!r}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def quickstart():
    """A copy of examples/quickstart, run once: 22 runs in its record."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="expman-ui-"))
    qs = root / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", qs, ignore=shutil.ignore_patterns("outputs", "with_trackers", "with_s3"))
    expman("run", str(qs), cwd=root)
    try:
        yield qs
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def server(quickstart):
    ui = UiServer(quickstart)
    try:
        yield ui
    finally:
        ui.stop()


@pytest.fixture(scope="session")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs chromium and chromedriver (apt-get install chromium chromium-driver)")
        pytest.skip("no chromium/chromedriver here")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
