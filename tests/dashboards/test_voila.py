"""A standalone dashboard served by Voila for real: `voila` on a free localhost port, opened in
headless Chromium (Playwright with Debian's chromium, as in test_browser.py), a slider moved
with the keyboard, and the figure checked to change.

Without Voila, Chromium or Playwright the test is skipped, except where
MEDGAN_REQUIRE_BROWSER=1 (CI): there it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import driver  # app/driver.py, on sys.path by tests/conftest.py
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "dashboards" / "toy_gan.ipynb"
TIMEOUT_MS = 90_000  # the kernel imports torch on a shared CPU


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory, browser_missing) -> Iterator[tuple[str, Path]]:
    """``voila toy_gan.ipynb`` on 127.0.0.1; yields (URL, log file); always stopped."""
    bin_dir = str(Path(sys.executable).parent)
    exe = shutil.which("voila", path=bin_dir) or shutil.which("voila")
    if exe is None:
        browser_missing("Voila is not installed (pip install -e '.[book]')")
    port = driver.free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    cmd = [
        exe,
        str(NOTEBOOK),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--VoilaConfiguration.show_tracebacks=True",  # an error would be on the page
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while True:  # a static file answers without starting a kernel
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Voila did not start at {url}:\n{log.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2):
                        break
                except OSError:
                    time.sleep(0.2)
            yield url, log
        finally:
            proc.terminate()  # Voila shuts its kernels down
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: Voila and its kernels
                proc.wait(5)


def test_toy_gan_in_voila_redraws_when_a_slider_moves(chromium, voila, tmp_path):
    url, log = voila
    with driver.browser(chromium) as context:
        page = context.new_page()
        page_errors: list[str] = []
        page.on("pageerror", lambda err: page_errors.append(str(err)))
        page.goto(url)
        modes = page.locator(".widget-hslider").filter(has_text="modes")
        handle = modes.locator("[role=slider]")
        handle.wait_for(timeout=TIMEOUT_MS)
        status = page.locator(".widget-html").filter(has_text="modes covered")
        status.filter(has_text="/3").wait_for(timeout=TIMEOUT_MS)
        image = page.locator("img.widget-image")
        page.wait_for_function(
            "() => document.querySelector('img.widget-image')?.naturalWidth > 0",
            timeout=TIMEOUT_MS,
        )
        src, shot = image.get_attribute("src"), image.screenshot(path=str(tmp_path / "before.png"))

        handle.focus()
        handle.press("ArrowRight")  # 3 -> 4 modes: a new toy GAN, redrawn by the kernel

        status.filter(has_text="/4").wait_for(timeout=TIMEOUT_MS)
        page.wait_for_function(
            "src => document.querySelector('img.widget-image').src !== src",
            arg=src,
            timeout=TIMEOUT_MS,
        )
        page.wait_for_timeout(300)  # the new image finishes painting
        assert handle.get_attribute("aria-valuenow") in {"4", "4.0"}
        after = image.screenshot(path=str(tmp_path / "after.png"))
        assert after != shot, "the figure looks the same after the slider moved"
        text = page.inner_text("body")
        assert "Traceback" not in text, text[-2000:]
        assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()
        assert not page_errors, page_errors
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-3000:]
