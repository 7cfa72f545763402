"""Headless Chromium driven by Selenium, for the page's real-browser test and the README screenshot.

Uses Debian's ``chromium`` and ``chromium-driver`` (no browser is downloaded); Selenium comes with the test
extra and is imported only when a browser is started.
"""
from __future__ import annotations

import shutil
from pathlib import Path

# What Chromium needs on these machines: no sandbox as root, no GPU, and none of its background connections
# (refused here, many at a time).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage")


def chromium_paths() -> tuple[str | None, str | None]:
    """(the Chromium binary, chromedriver), each None when absent."""
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    return binary, shutil.which("chromedriver")


def headless_chromium(user_data: Path, *, window: str = "1200,1000", download_dir: Path | None = None,
                      flags: tuple[str, ...] = ()):
    """A Selenium driver for headless Chromium with a fresh profile in ``user_data`` and a ``window`` size;
    with ``download_dir``, downloads land there without asking."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium_paths()
    if binary is None or driver_path is None:
        raise RuntimeError("needs Chromium and its driver: apt-get install -y chromium chromium-driver (Debian)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, *flags, f"--window-size={window}", f"--user-data-dir={user_data}"):
        options.add_argument(flag)
    if download_dir is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    if download_dir is not None:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    return driver
