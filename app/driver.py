"""Serve the Streamlit app and drive it in a browser: test tooling for the tests, the
benchmark and the book's screenshots (beside the app, not in the library).

- :func:`serve_app`: ``streamlit run`` of the page (``medgan_utils/appkit/streamlit_app.py``)
  from the repository root, headless on a free localhost port,
  stopped (and its log kept) when the block ends; :class:`AppServer` reports its memory.
- :func:`browser` and :class:`AppPage`: a real headless Chromium (Debian's ``chromium``,
  driven by Playwright's Python package with ``executable_path``; never ``playwright
  install``) that selects a model, sets the count and seed, generates, waits for the images
  and downloads the ZIP, as a user would.
- :func:`take_screenshots`: the screenshots of the capstone chapter, from the real app.

Many sessions at once, without a browser, are in ``loadtest.py`` beside this file. Tests and
benchmarks put this folder on ``sys.path`` and ``import driver``.

Command line (the chapter's screenshots)::

    python app/driver.py screenshots --out notebooks/images [--catalog FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medgan_utils.appkit.page import APP as PAGE

__all__ = [
    "APP",
    "CHROMIUM_FLAGS",
    "AppServer",
    "serve_app",
    "find_chromium",
    "browser",
    "AppPage",
    "take_screenshots",
]

ROOT = Path(__file__).resolve().parents[1]  # Streamlit reads .streamlit/config.toml here
APP = PAGE  # the page itself, as `medgan app` serves it
# The machine's network may be closed: without these Chromium stalls on connections.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_status(pid: int, field_name: str) -> float | None:
    """A ``/proc/<pid>/status`` memory field in MB (Linux), else ``None``."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) / 1024 if m else None


@dataclass
class AppServer:
    """A running ``streamlit run``: its URL, process and log file."""

    url: str
    process: subprocess.Popen = field(repr=False)
    log: Path

    def rss_mb(self) -> float | None:
        """Resident memory of the server process now."""
        return _proc_status(self.process.pid, "VmRSS")

    def peak_rss_mb(self) -> float | None:
        """The most resident memory the server process has held (Linux ``VmHWM``)."""
        return _proc_status(self.process.pid, "VmHWM")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def serve_app(
    app: str | Path = APP,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 90.0,
) -> Iterator[AppServer]:
    """Start the app headless on ``127.0.0.1``; stop it when the block ends.

    The server runs from the repository root (so it reads ``.streamlit/config.toml``) with
    the file watcher off, and writes its log to a temporary file (``server.log``).

    Raises:
        RuntimeError: the server did not answer its health check within ``timeout`` s
            (the message ends with its log).
    """
    app = Path(app).resolve()
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        *("-m", "streamlit", "run", str(app)),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--browser.gatherUsageStats=false",
    ]
    with tempfile.TemporaryDirectory(prefix="medgan-app-") as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal does not reach it
            )
            server = AppServer(url, proc, log)
            try:
                _wait_healthy(server, timeout)
                yield server
            finally:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def _wait_healthy(server: AppServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not start at {server.url}:\n{server.output()[-3000:]}")


# --------------------------------------------------------------------------- the browser


def find_chromium() -> str | None:
    """``$MEDGAN_CHROMIUM``, else Debian's ``chromium`` (or Chrome) on the ``PATH``."""
    given = os.environ.get("MEDGAN_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((path for name in names if (path := shutil.which(name))), None)


@contextmanager
def browser(executable: str | None = None, width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A Playwright ``BrowserContext`` of headless Chromium with a fresh profile folder.

    Raises:
        RuntimeError: no Chromium found (``apt-get install chromium``) or Playwright missing.
    """
    executable = executable or find_chromium()
    if executable is None:
        raise RuntimeError("no Chromium found: install Debian's `chromium` or set MEDGAN_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise RuntimeError("Playwright is not installed: pip install playwright") from err
    with tempfile.TemporaryDirectory(prefix="medgan-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": width, "height": height},
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()


class AppPage:
    """The app in a browser tab, driven the way a user drives it.

    Example:
        >>> with serve_app() as server, browser() as ctx:           # doctest: +SKIP
        ...     page = AppPage(ctx.new_page(), server.url).open()
        ...     page.generate("brain-mri-dcgan-64", count=16, seed=0)
    """

    def __init__(self, page: Any, url: str, timeout: float = 120.0) -> None:
        self.page, self.url, self.timeout_ms = page, url, timeout * 1000

    def open(self, query: str = "") -> AppPage:
        self.page.goto(self.url + (f"/?{query}" if query else "/"))
        self.page.get_by_role("button", name="Generate").wait_for(timeout=self.timeout_ms)
        return self.wait_idle()

    def wait_idle(self) -> AppPage:
        """Wait until the script run the last action started has finished."""
        self.page.wait_for_timeout(200)  # the rerun starts after the widget's debounce
        self.page.wait_for_selector(
            "[data-testid=stApp][data-test-script-state=notRunning]", timeout=self.timeout_ms
        )
        return self

    def select(self, label: str, option: str) -> AppPage:
        """Choose the option of selectbox ``label`` whose text contains ``option``."""
        self.page.get_by_role("combobox", name=label).click()
        self.page.get_by_role("option", name=re.compile(re.escape(option))).first.click()
        return self.wait_idle()

    def set_slider(self, label: str, value: int) -> AppPage:
        """Move a slider with the arrow keys, as a user can, until it shows ``value``."""
        thumb = self.page.get_by_role("slider", name=label)
        for _ in range(5):  # a key press that lands during a rerun can be lost: check, retry
            current = int(thumb.get_attribute("value") or 0)
            if current == value:
                return self
            thumb.focus()
            for _ in range(abs(value - current)):
                thumb.press("ArrowRight" if value > current else "ArrowLeft")
            self.wait_idle()
        raise RuntimeError(f"the slider {label!r} did not reach {value}")

    def set_number(self, label: str, value: int) -> AppPage:
        box = self.page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        return self.wait_idle()

    def tab(self, name: str) -> AppPage:
        self.page.get_by_role("tab", name=name).click()
        return self.wait_idle()

    def generate(self, model: str | None = None, count: int = 16, seed: int = 0) -> list[str]:
        """Set the model, count and seed, press Generate, wait for the images; their URLs."""
        if model is not None:
            self.select("Model", model)
        self.set_slider("Number of images", count)
        self.set_number("Seed", seed)
        self.page.get_by_role("button", name="Generate").click()
        return self.wait_for_images(count)

    def wait_for_images(self, count: int) -> list[str]:
        last = self.page.get_by_test_id("stImageCaption").get_by_text(
            f"synthetic #{count}", exact=True
        )
        last.wait_for(timeout=self.timeout_ms)
        self.page.get_by_role("button", name=re.compile("^Download all")).wait_for(
            timeout=self.timeout_ms
        )
        self.wait_idle()
        return [self.image_url(i) for i in range(1, count + 1)]

    def image(self, i: int) -> Any:
        """The grid's image ``synthetic #i`` (1-based), with its caption, as a locator."""
        caption = self.page.get_by_test_id("stImageCaption").get_by_text(
            f"synthetic #{i}", exact=True
        )
        return self.page.get_by_test_id("stImageContainer").filter(has=caption).first

    def image_url(self, i: int) -> str:
        return self.image(i).locator("img").get_attribute("src")

    def fetch(self, url: str) -> bytes:
        """The bytes of an image URL: inline (``data:``, as the grid's) or served."""
        if url.startswith("data:"):
            with urllib.request.urlopen(url) as r:
                return r.read()
        return self.page.request.get(url).body()

    def enlarge(self, i: int) -> Any:
        """Look closer at image ``i`` and press its full-screen button; the close button."""
        self.set_number("Look closer at image #", i)
        name = f"synthetic #{i}, enlarged"
        caption = self.page.get_by_test_id("stImageCaption").get_by_text(name, exact=True)
        self.page.get_by_test_id("stImage").filter(has=caption).first.hover()
        self.page.get_by_role("button", name=f"Fullscreen: {name}", exact=True).click()
        return self.page.get_by_role("button", name=re.compile("^Close fullscreen"))

    def download_zip(self, folder: str | Path) -> Path:
        with self.page.expect_download(timeout=self.timeout_ms) as info:
            self.page.get_by_role("button", name=re.compile("^Download all")).click()
        download = info.value
        path = Path(folder) / download.suggested_filename
        download.save_as(path)
        return path


# --------------------------------------------------------------------------- screenshots

SHOTS = {
    "app_generate.png": "the Generate view: 32 images of the shipped model, seed 0",
    "app_enlarged.png": "one image enlarged with its full-screen button",
    "app_model_card.png": "the Model card view",
    "app_metrics.png": "the model's metrics, each beside its real-vs-real floor",
    "app_models.png": "the unified catalog, with what each model needs",
    "app_interpolation.png": "latent interpolation between two seeds",
    "app_memorization.png": "each sample beside its nearest training image",
    "app_turing_test.png": "the visual Turing test, after ten answers",
    "app_unavailable.png": "a medigan model that cannot be downloaded: a message, no crash",
}


def take_screenshots(
    out: str | Path,
    url: str,
    model: str = "brain-mri-dcgan-64",
    unavailable: str = "00017_DCGAN_XRAY_LUNG_NODULES",
) -> list[Path]:
    """Drive the app at ``url`` through each view and save :data:`SHOTS` into ``out``.

    ``app_unavailable.png`` needs ``unavailable`` in the catalog and not on disk (the app
    started with ``MEDGAN_CATALOG`` and no network); without it that shot is left out.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    def shot(app: AppPage, name: str, scroll_to: Any = None) -> None:
        if scroll_to is not None:
            scroll_to.scroll_into_view_if_needed()
        app.page.mouse.move(0, 0)  # no hover effects in the picture
        app.page.wait_for_timeout(500)  # images finish painting
        app.page.screenshot(path=str(out / name))
        paths.append(out / name)

    with browser() as context:
        app = AppPage(context.new_page(), url).open()
        app.generate(model, count=32, seed=0)
        shot(app, "app_generate.png")
        close = app.enlarge(1)
        shot(app, "app_enlarged.png")
        close.click()

        app.tab("Model card")
        shot(app, "app_model_card.png")
        app.page.get_by_role("button", name="Evaluate").click()
        table = app.page.get_by_test_id("stTable").first
        table.wait_for(timeout=app.timeout_ms)
        app.wait_idle()
        shot(app, "app_metrics.png", scroll_to=table)
        shot(app, "app_models.png", scroll_to=app.page.get_by_test_id("stDataFrame").first)

        app.tab("Interpolation")
        shot(app, "app_interpolation.png")
        app.generate(None, count=16, seed=0)
        app.tab("Memorization")
        shot(app, "app_memorization.png")
        app.tab("Visual Turing test")
        for _ in range(10):
            app.page.get_by_role("button", name="Synthetic", exact=True).click()
            app.wait_idle()
        shot(app, "app_turing_test.png")

        app.page.get_by_role("combobox", name="Model").click()
        option = app.page.get_by_role("option", name=re.compile(re.escape(unavailable)))
        if option.count():
            option.first.click()
            app.wait_idle()
            app.set_slider("Number of images", 4)
            app.page.get_by_role("button", name="Generate").click()
            app.page.get_by_test_id("stAlertContentError").first.wait_for(timeout=app.timeout_ms)
            shot(app, "app_unavailable.png")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Drive the Streamlit app from code.")
    sub = parser.add_subparsers(dest="command", required=True)
    shots = sub.add_parser("screenshots", help="take the capstone chapter's screenshots")
    shots.add_argument("--out", default="notebooks/images")
    shots.add_argument("--catalog", help="a medigan global.json to list its models")
    args = parser.parse_args(argv)
    env = {"MEDGAN_CATALOG": str(Path(args.catalog).resolve())} if args.catalog else {}
    with serve_app(env=env) as server:
        for path in take_screenshots(args.out, server.url):
            print(f"{path}: {SHOTS[path.name]}")


if __name__ == "__main__":
    main()
