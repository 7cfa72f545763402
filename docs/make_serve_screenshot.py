"""Redraw docs/serve.png: the `gir serve` page in headless Chromium after restoring the README's example.

    python docs/make_serve_screenshot.py [--out docs/serve.png]

Starts `gir serve` on a free loopback port, uploads examples/astronaut_degraded.jpg through the page, waits
for the result, sets the before/after split and takes the screenshot. Needs the serve and test extras and
Debian's chromium and chromium-driver.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from gir.serve.browser import headless_chromium
from gir.utils.net import free_port

REPO = Path(__file__).resolve().parents[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "gir.cli", "serve", "--port", str(port), "--workers", "1",
                             "--log-level", "warning"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gir serve did not start")


def main() -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "serve.png"))
    args = ap.parse_args()
    port = free_port()
    server = start_server(port)
    profile = tempfile.mkdtemp(prefix="gir-shot-")
    driver = headless_chromium(Path(profile), window="1200,1320", flags=("--hide-scrollbars",))
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(driver, 30).until(lambda d: "worker" in d.find_element(By.ID, "server-status").text)
        driver.find_element(By.ID, "files").send_keys(str(REPO / "examples" / "astronaut_degraded.jpg"))
        job = WebDriverWait(driver, 600, 0.2).until(lambda d: d.find_element(By.CSS_SELECTOR, ".job.done"))
        Select(job.find_element(By.CSS_SELECTOR, "select.zoom")).select_by_value("1")
        driver.execute_script("arguments[0].value = 50; arguments[0].dispatchEvent(new Event('input'));",
                              job.find_element(By.CSS_SELECTOR, "input.split"))
        driver.execute_script("document.querySelector('.job details').open = true; window.scrollTo(0, 0);")
        time.sleep(0.5)
        driver.save_screenshot(args.out)
        print(f"wrote {args.out}")
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
