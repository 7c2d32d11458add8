"""Headless Chromium through Selenium, set up to run as root in a container on a closed
network (no sandbox, no GPU, no background connections) with a real user agent."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

from traygo.errors import ConfigError

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--lang=en-US",
    "--window-size=1366,900",
    f"--user-agent={USER_AGENT}",
)
PAGE_LOAD_TIMEOUT = 30
SCRIPT_TIMEOUT = 10


@contextmanager
def chromium(binary: str, driver_path: str) -> Iterator[webdriver.Chrome]:
    for path, what in ((binary, "Chromium"), (driver_path, "ChromeDriver")):
        if not Path(path).is_file() and not shutil.which(path):
            raise ConfigError(
                f"{what} not found at {path}; install Debian's chromium and chromium-driver "
                "(make system-deps) or set TRAYGO_CHROMIUM / TRAYGO_CHROMEDRIVER"
            )
    profile = tempfile.mkdtemp(prefix="traygo-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    try:
        # An explicit driver path: Selenium Manager would try to download one.
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        raise ConfigError(f"cannot start Chromium: {exc.msg or exc}") from None
    driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
    driver.set_script_timeout(SCRIPT_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
