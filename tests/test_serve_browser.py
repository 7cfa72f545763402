"""`gir serve`'s page in a real browser (issue 31): headless Chromium, driven by Selenium, opens the page,
uploads a photo, waits for the result, moves the before/after slider, zooms, reads the explanation and
downloads the result, which must equal what `gir restore` writes for the same file.

Needs Debian's `chromium` and `chromium-driver` (`apt-get install -y chromium chromium-driver`; `.ci/run`
installs them) and the serve and test extras; skips with the reason otherwise.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install -e '.[serve]'")
uvicorn = pytest.importorskip("uvicorn", reason="needs the serve extra: pip install -e '.[serve]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium: pip install -e '.[test]'")

from conftest import REPO  # noqa: E402
from gir.serve.app import create_app  # noqa: E402
from gir.serve.browser import chromium_paths, headless_chromium  # noqa: E402
from gir.serve.config import ServeConfig  # noqa: E402
from gir.utils.net import free_port  # noqa: E402

CHROMIUM, CHROMEDRIVER = chromium_paths()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Chromium and its driver: apt-get install -y chromium chromium-driver (Debian)")


class LiveServer:
    """``gir serve``'s app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, temp: Path):
        self.port = free_port()
        config = ServeConfig(workers=1, threads=1, port=self.port, temp_parent=str(temp))
        self.server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def chromium(download_dir: Path, user_data: Path):
    """Headless Chromium with a fresh profile, downloading into ``download_dir`` without asking."""
    return headless_chromium(user_data, download_dir=download_dir)


def noisy_photo(path: Path) -> Path:
    from gir.io import read_image, write_image

    img = read_image(REPO / "examples" / "astronaut.png").rgb[100:228, 150:278]
    noisy = img + np.random.default_rng(3).normal(0, 25 / 255, img.shape)
    write_image(path, np.clip(noisy, 0, 1).astype(np.float32))
    return path


def wait(driver, condition, timeout: float = 90.0, what: str = "the page"):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=f"waiting for {what}")


def test_page_restores_photos_shows_the_slider_and_explanation_and_downloads_the_cli_result(tmp_path):
    import torch
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from gir.cli import main

    photo = noisy_photo(tmp_path / "street photo.png")
    clean = tmp_path / "flat.png"
    from gir.io import write_image

    write_image(clean, np.full((64, 96, 3), 0.5, np.float32))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with LiveServer(tmp_path) as server:
        driver = chromium(downloads, tmp_path / "profile")
        try:
            driver.get(server.url + "/")
            wait(driver, lambda d: "worker" in d.find_element(By.ID, "server-status").text, what="the status")
            assert Select(driver.find_element(By.ID, "mode")).first_selected_option.text == "fidelity"
            driver.find_element(By.ID, "files").send_keys(f"{photo}\n{clean}")  # two photos at once
            wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".job.done, .job.failed")) == 2,
                 what="both photos")
            jobs = {j.find_element(By.CSS_SELECTOR, ".job-name").text: j
                    for j in driver.find_elements(By.CSS_SELECTOR, ".job")}
            assert set(jobs) == {photo.name, clean.name}
            job = jobs[photo.name]
            assert "done" in job.get_attribute("class"), job.find_element(By.CSS_SELECTOR, ".job-error").text
            assert job.find_element(By.CSS_SELECTOR, ".job-progress").get_attribute("value") == "1"
            assert "The result is the very same photo." in jobs[clean.name].find_element(By.CSS_SELECTOR,
                                                                                         ".words").text

            # the before/after slider: keys on the range, then a drag on the image itself
            after = job.find_element(By.CSS_SELECTOR, "img.after")
            wait(driver, lambda d: after.get_property("naturalWidth") == 128, what="the result image")
            split = job.find_element(By.CSS_SELECTOR, "input.split")
            split.send_keys(Keys.HOME)
            for _ in range(20):
                split.send_keys(Keys.ARROW_RIGHT)
            assert split.get_attribute("value") == "20"
            assert "20%" in after.value_of_css_property("clip-path")
            stage = job.find_element(By.CSS_SELECTOR, ".stage")
            webdriver.ActionChains(driver).move_to_element_with_offset(stage, stage.size["width"] // 4, 0) \
                .click_and_hold().release().perform()
            assert job.get_attribute("data-split") == "75"

            # zoom: 400% shows four screen pixels per image pixel
            Select(job.find_element(By.CSS_SELECTOR, "select.zoom")).select_by_value("4")
            ratio = driver.execute_script("return window.devicePixelRatio")
            assert abs(stage.size["width"] - 128 * 4 / ratio) <= 1

            # the explanation, in words and as --explain prints it
            words = job.find_element(By.CSS_SELECTOR, ".words").text
            assert "Found: noise" in words
            assert re.search(r"The [\w-]+ expert ran for noise and gir kept it", words), words
            text = job.find_element(By.CSS_SELECTOR, ".explain-text").get_attribute("textContent")
            assert text.startswith(f"{photo.name}: noise") and "noise: kept" in text

            # the download equals gir restore's output
            job.find_element(By.CSS_SELECTOR, "a.download").click()
            target = downloads / "street photo_restored.png"
            wait(driver, lambda d: target.is_file() and not list(downloads.glob("*.crdownload")),
                 what="the download")
        finally:
            driver.quit()
    cli_out = tmp_path / "cli.png"
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server's worker (threads=1)
    try:
        assert main(["restore", str(photo), "-o", str(cli_out), "-q"]) == 0
    finally:
        torch.set_num_threads(saved)
    assert target.read_bytes() == cli_out.read_bytes()
