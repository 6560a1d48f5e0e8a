"""A real browser for the web page's tests: Debian's chromium, headless, driven
through Debian's chromium-driver by Selenium (both from `scripts/install-deps.sh
test`). Screenshots go to $ROISERVE_SCREENSHOT_DIR, else to a pytest temporary
directory whose path the test prints."""
import os
import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: run with .venv-test/bin/python")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Page loads and a comparison on a loaded 2-core machine take seconds; this
# bounds a wait that would otherwise hang the test.
WAIT_S = 60
DESKTOP = (1280, 800)
PHONE = (390, 844)


def start_browser():
    """Headless chromium at 1280x800 that keeps the console's messages."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(program):
            pytest.fail(f"{program} is missing: run scripts/install-deps.sh test (chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def wait_for(driver, condition, what):
    """Waits until condition(driver) is truthy and returns it; fails naming what."""
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: condition(d))
    except Exception as error:  # selenium's TimeoutException, or the condition's own
        pytest.fail(f"waiting for {what}: {type(error).__name__} {error}")


def console_errors(driver):
    """The console's SEVERE messages since the last call (reading empties the log)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot_dir(tmp_path_factory):
    configured = os.environ.get("ROISERVE_SCREENSHOT_DIR")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def save_full_page(driver, path, width):
    """A screenshot of the whole page at `width` CSS pixels, with no focus ring."""
    driver.execute_script("document.activeElement.blur()")
    driver.set_window_size(width, 800)
    # The window is taller than its viewport by the browser's own frame.
    frame, height = driver.execute_script(
        "return [window.outerHeight - window.innerHeight, document.documentElement.scrollHeight]")
    driver.set_window_size(width, height + frame)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))
    driver.set_window_size(*DESKTOP)
    print(f"screenshot: {path}")
