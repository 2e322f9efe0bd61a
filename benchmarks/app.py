"""Time the Streamlit app as users meet it: cold start, click-to-grid latency, and a load test.

- cold start to first render: ``streamlit run`` is spawned until its first script run has
  finished for a new session (the page with its widgets, the shipped model loaded);
- click-to-grid: in headless Chromium, from the click on Generate until every image of the
  grid is painted, for 16 and 64 images of the shipped model: *first* (the first generation
  of the server process), *new seed* (a request never seen, model warm) and *cached* (a
  request seen before, served from ``st.cache_data``);
- generation alone: ``zoo.generate`` of the same images in this process, the part of
  click-to-grid that is the model's (the rest is the page, the transfer and the browser);
- load test: concurrent sessions over Streamlit's websocket protocol, each generating 64
  images with its own seed, with the server's peak resident memory.

Without Chromium (``apt-get install chromium``) or Playwright the click-to-grid rows are
measured over the protocol instead (a session opening a shared link), and say so.

    .venv/bin/python benchmarks/app.py [--counts 16 64] [--sessions 8] [--repeat 3] [--app FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from _common import print_table

sys.path.append(str(Path(__file__).resolve().parents[1] / "app"))  # the app's test tooling
from driver import APP, AppPage, browser, find_chromium, serve_app  # noqa: E402
from loadtest import load_test, protocol_session  # noqa: E402

from medgan_utils.gan.zoo import DEFAULT_MODEL, generate, load_generator  # noqa: E402

PAINTED = """([count, seed]) => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const title = new RegExp(`^${count} synthetic images: .*, seed ${seed}(,|$)`);
  if (![...document.querySelectorAll('h3')].some(h => title.test(h.textContent.trim())))
    return false;
  const imgs = [...document.querySelectorAll('[data-testid=stImageContainer]')].filter(el =>
      /^synthetic #\\d+$/.test(el.querySelector('[data-testid=stImageCaption]')?.textContent));
  return imgs.length === count && imgs.every(el => {
      const img = el.querySelector('img'); return img.complete && img.naturalWidth > 0; });
}"""


def click_to_grid(app: AppPage, count: int, seed: int) -> float:
    """Seconds from the click on Generate to the painted grid (settings made beforehand)."""
    app.set_slider("Number of images", count)
    app.set_number("Seed", seed)
    button = app.page.get_by_role("button", name="Generate")
    start = time.perf_counter()
    button.click()
    app.page.wait_for_function(PAINTED, arg=[count, seed], timeout=300_000, polling=50)
    return time.perf_counter() - start


def protocol_latency(url: str, count: int, seed: int) -> float:
    result = protocol_session(url, f"model={DEFAULT_MODEL}&n={count}&seed={seed}")
    assert not result.errors and result.images == count, result.errors
    return result.seconds


def generation_time(count: int, seeds: list[int]) -> float:
    """Median seconds of ``zoo.generate`` for ``count`` images, new seeds, model warm."""
    G, _ = load_generator(DEFAULT_MODEL)
    generate(G, count, seed=0)  # warm up
    times = []
    for seed in seeds:
        start = time.perf_counter()
        generate(G, count, seed=seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions")
    parser.add_argument("--load-count", type=int, default=64, help="images per session")
    parser.add_argument("--repeat", type=int, default=3, help="median of N for warm rows")
    parser.add_argument("--no-browser", action="store_true", help="protocol timings only")
    parser.add_argument("--app", default=str(APP), help="the page to serve (to compare versions)")
    args = parser.parse_args(argv)

    chromium = None if args.no_browser else find_chromium()
    rows: list[tuple[str, str, str]] = []
    start = time.perf_counter()
    with serve_app(args.app) as server:
        spawned = time.perf_counter() - start
        first = protocol_session(server.url, "", fetch_images=False)
        assert not first.errors, first.errors
        rows.append(("cold start to first render", f"{spawned + first.seconds:.2f} s", "-"))
        rss_idle = server.rss_mb()

        how = "browser" if chromium else "protocol"
        seeds = iter(range(10_000, 20_000))
        with browser(chromium) if chromium else nullcontext() as context:
            if context is not None:
                app = AppPage(context.new_page(), server.url).open()
                measure = lambda n, s: click_to_grid(app, n, s)  # noqa: E731
            else:
                measure = lambda n, s: protocol_latency(server.url, n, s)  # noqa: E731
            for i, n in enumerate(args.counts):
                if i == 0:
                    t = measure(n, next(seeds))
                    rows.append((f"click-to-grid {n} images, first ({how})", f"{t:.3f} s", "-"))
                new = [(s, measure(n, s)) for s in [next(seeds) for _ in range(args.repeat)]]
                t_new = statistics.median(t for _, t in new)
                cached = [measure(n, s) for s, _ in new]
                t_cached = statistics.median(cached)
                rows.append((f"click-to-grid {n} images, new seed ({how})", f"{t_new:.3f} s", "-"))
                rows.append((f"click-to-grid {n} images, cached ({how})", f"{t_cached:.3f} s", "-"))
                t_gen = generation_time(n, [next(seeds) for _ in range(args.repeat)])
                rows.append((f"generation alone, {n} images (zoo.generate)", f"{t_gen:.3f} s", "-"))

        result = load_test(server, sessions=args.sessions, count=args.load_count)
        assert not result.errors, result.errors[:3]
        rows.append(
            (
                f"load test: {args.sessions} sessions x {args.load_count} images",
                f"{result.seconds:.2f} s",
                f"{result.images_per_s:,.0f} images/s",
            )
        )
        rows.append(
            ("server memory: idle / peak", f"{rss_idle:.0f} MB", f"{result.peak_rss_mb:.0f} MB")
        )

    driver = f"Chromium {chromium}" if chromium else "no browser"
    print(
        f"app: {DEFAULT_MODEL} (64x64), torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads, {driver}; warm rows: median of {args.repeat}; "
        f"page {Path(args.app).name}"
    )
    print()
    print_table(["step", "time", "other"], rows)


if __name__ == "__main__":
    main()
