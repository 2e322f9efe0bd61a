"""Shared fixtures. Every test session gets its own MEDGAN_HOME, so tests never touch
the user's cache and CI starts from nothing, as a fresh clone does."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import save_generator

ROOT = Path(__file__).resolve().parents[1]
# Set before any medgan_utils import so subprocesses (CLI, book build) inherit it too.
os.environ.setdefault("MEDGAN_HOME", tempfile.mkdtemp(prefix="medgan-test-home-"))
os.environ.setdefault("MPLBACKEND", "Agg")
# No test may touch the network: the hub treats downloads as unavailable.
os.environ.setdefault("MEDGAN_OFFLINE", "1")
# The app's test tooling lives beside the app, outside the package: `import driver, loadtest`.
sys.path.append(str(ROOT / "app"))
# CI (`.ci/run`) installs Chromium and sets this: there a missing browser fails, not skips.
REQUIRE_BROWSER = os.environ.get("MEDGAN_REQUIRE_BROWSER", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest puts the app's script in ``sys.modules["__main__"]`` and leaves it
    there; a later ``torch.multiprocessing.spawn`` would then start its children by running
    that script. Every test gets back the ``__main__`` it started with."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def save_tiny_generator(folder: Path, classes: list[str] | None = None, seed: int = 0) -> Path:
    """An untrained 32-px DCGAN of width 4 saved as a run saves its generator: it loads,
    generates, exports and packages in milliseconds. Conditional when ``classes`` are given;
    its ``generator.json`` says it was trained on 2 subjects of the built-in set."""
    torch.manual_seed(seed)
    cfg = DCGANConfig(image_size=32, width=4, latent_dim=8, num_classes=len(classes or []))
    data = "builtin-labelled" if classes else "builtin"
    info = {"data": data, "data_options": {"n_subjects": 2}, "classes": classes or []}
    return save_generator(Generator(cfg), cfg, folder, info)


@pytest.fixture(scope="session")
def make_tiny():
    """:func:`save_tiny_generator`, for tests that need a tiny generator of their own."""
    return save_tiny_generator


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """A tiny unconditional generator folder, shared read-only by every test."""
    return save_tiny_generator(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_cond(tmp_path_factory) -> Path:
    """A tiny conditional generator folder (classes ``lesion``, ``no_lesion``), read-only."""
    return save_tiny_generator(tmp_path_factory.mktemp("tiny-cond"), ["lesion", "no_lesion"])


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread while a module trains tiny models: on 2 shared cores two spinning
    OpenMP threads make tiny convolutions many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _browser_missing(why: str) -> None:
    """Skip a browser test, or fail it where CI requires the browser."""
    if REQUIRE_BROWSER:
        pytest.fail(f"MEDGAN_REQUIRE_BROWSER is set but {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def browser_missing():
    """``browser_missing(why)``: skip, or fail where CI requires the browser and its server."""
    return _browser_missing


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for Playwright (``playwright install`` is never run)."""
    import driver  # app/driver.py

    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _browser_missing("Playwright is not installed (pip install playwright)")
    path = driver.find_chromium()
    if path is None:
        _browser_missing("no Chromium on this machine (apt-get install chromium)")
    return path
