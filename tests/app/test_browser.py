"""The app served for real: `streamlit run` on a free localhost port, driven by headless
Chromium (Playwright with Debian's chromium), and a load test over the websocket protocol.

Without Chromium (or Playwright) the browser test is skipped, except where
MEDGAN_REQUIRE_BROWSER=1 (CI: `.ci/run` installs chromium and sets it): there it fails.
"""

from __future__ import annotations

import io
import zipfile

import driver  # app/driver.py, on sys.path by tests/conftest.py
import loadtest  # app/loadtest.py
import pytest
from PIL import Image

from medgan_utils.gan.zoo import DEFAULT_MODEL


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("streamlit")
    with driver.serve_app() as running:
        yield running
        assert "Traceback" not in running.output(), running.output()[-3000:]


def test_generate_enlarge_and_download_in_a_real_browser(server, chromium, tmp_path):
    with driver.browser(chromium) as context:
        app = driver.AppPage(context.new_page(), server.url).open()
        urls = app.generate(DEFAULT_MODEL, count=12, seed=3)
        shown = [app.fetch(u) for u in urls]
        assert len(set(shown)) == 12
        with Image.open(io.BytesIO(shown[0])) as im:
            assert im.format == "PNG" and im.text["synthetic"] == "true" and im.size == (64, 64)
        app.page.screenshot(path=str(tmp_path / "app.png"))
        with Image.open(tmp_path / "app.png") as im:
            assert im.size == (1400, 900)

        close = app.enlarge(5)
        close.wait_for()
        close.click()

        archive = zipfile.ZipFile(app.download_zip(tmp_path))
        assert archive.filename.endswith(f"synthetic_{DEFAULT_MODEL}_seed3_n12.zip")
        pngs = sorted(n for n in archive.namelist() if n.startswith("synthetic_"))
        assert [archive.read(n) for n in pngs] == shown  # the files are the images shown
        assert {"grid.png", "manifest.csv", "MODEL_CARD.md"} <= set(archive.namelist())
        assert not app.page.get_by_test_id("stException").count()


def test_eight_concurrent_sessions_of_64_images(server):
    result = loadtest.load_test(server, sessions=8, count=64)
    print(
        f"\nload test: {result.sessions} sessions x 64 images in {result.seconds:.1f} s "
        f"({result.images_per_s:.0f} images/s); server memory {result.rss_before_mb:.0f} MB "
        f"before, peak {result.peak_rss_mb:.0f} MB"
    )
    assert not result.errors, result.errors[:5]
    assert result.images == 8 * 64
    assert all(r.image_bytes > 64 * 1000 for r in result.results)  # every image was served
    # bounded: a second wave of new requests adds little (caches have a maximum size)
    again = loadtest.load_test(server, sessions=8, count=64, first_seed=2000)
    assert not again.errors and again.images == 8 * 64
    assert again.peak_rss_mb < result.peak_rss_mb + 150, (result.peak_rss_mb, again.peak_rss_mb)
    assert again.peak_rss_mb < 2048
