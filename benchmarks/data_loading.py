"""Time the built-in brain-MRI set (first build, load from cache, a DataLoader pass) and a
folder of PNGs read with and without a decompression bomb among them.

Usage:
    python benchmarks/data_loading.py                      # the default 48 subjects x 32 slices
    python benchmarks/data_loading.py --n-subjects 8 --image-size 32   # a quick run

The first build is timed once (it writes the cache); timings vary with machine load. The
folder rows show what the pixel budget (``medgan_utils.data.limits``) costs: the same
folder read alone and with the issue's 8 KB PNG bomb (30000 x 30000, 1-bit) among its
files, which is refused from its header and skipped, and the guard's own work (a ``stat``
and a budget claim per file) timed alone.
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch
from _common import print_table, timed
from PIL import Image
from torch.utils.data import DataLoader

from medgan_utils.data.builtin import BuiltinConfig, cache_file, load_builtin
from medgan_utils.data.limits import PixelBudget, check_regular_file
from medgan_utils.data.readers import read_path


def png_bomb(path: Path, side: int = 30000, rows: int = 2000) -> None:
    """A 1-bit PNG whose header claims ``side x side`` pixels, about 8 KB on disk."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    deflate = zlib.compressobj(9)
    row = bytes(1 + (side + 7) // 8)
    idat = b"".join(deflate.compress(row) for _ in range(rows)) + deflate.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def folder_rows(n: int, side: int, repeat: int) -> tuple[list[tuple[str, str, str]], str]:
    """Read ``n`` PNGs of ``side x side``, then the same with a bomb among them."""
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="medgan-bench-folder-") as tmp:
        folder = Path(tmp) / "pngs"
        folder.mkdir()
        for i in range(n):
            pixels = rng.integers(0, 256, (side, side), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"img{i:04d}.png")
        files = sorted(folder.iterdir())
        plain, t_plain = timed(lambda: read_path(folder), repeat)
        rows.append(
            (f"read folder: {n} PNGs of {side}x{side}", f"{t_plain:.3f} s", f"{n / t_plain:,.0f}")
        )

        def guard_alone() -> None:
            budget = PixelBudget(root=folder)
            for f in files:
                check_regular_file(f)
                budget.claim(f, (side, side))

        _, t_guard = timed(guard_alone, repeat)
        rows.append(
            (
                "  its guard alone (stat + budget claim per file)",
                f"{t_guard * 1e3:.2f} ms",
                f"{100 * t_guard / t_plain:.2f} % of the read",
            )
        )
        png_bomb(folder / "img_bomb.png")
        bomb_kb = (folder / "img_bomb.png").stat().st_size / 1e3

        def with_bomb() -> int:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the one "skipped 1 file(s)" warning
                result = read_path(folder, on_error="skip")
            assert [Path(p).name for p, _ in result.skipped] == ["img_bomb.png"]
            return len(result.slices)

        kept, t_bomb = timed(with_bomb, repeat)
        assert kept == len(plain.slices) == n
        rows.append(("same folder + 1 PNG bomb (skipped)", f"{t_bomb:.3f} s", f"{n / t_bomb:,.0f}"))
    note = (
        f"folder: {n} random 8-bit PNGs of {side}x{side}; the bomb is {bomb_kb:.0f} KB claiming "
        f"30000x30000 = 900 M pixels (refused from its header); best of {repeat}"
    )
    return rows, note


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=BuiltinConfig.n_subjects)
    parser.add_argument("--image-size", type=int, default=64, choices=(32, 64, 128))
    parser.add_argument("--labelled", action="store_true", help="time the labelled variant")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for every timed row")
    parser.add_argument("--folder-images", type=int, default=200, help="PNGs in the folder rows")
    parser.add_argument("--folder-size", type=int, default=256, help="side of those PNGs")
    args = parser.parse_args(argv)

    config = BuiltinConfig(
        labelled=args.labelled, image_size=args.image_size, n_subjects=args.n_subjects
    )
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="medgan-bench-") as tmp:
        cache_dir = Path(tmp)
        ds, t_build = timed(lambda: load_builtin(config, cache_dir=cache_dir))
        size_mb = cache_file(config, cache_dir).stat().st_size / 1e6
        rows.append(
            ("first build (+ write cache)", f"{t_build:.2f} s", f"{len(ds) / t_build:,.0f}")
        )
        cached, t_cache = timed(lambda: load_builtin(config, cache_dir=cache_dir), args.repeat)
        assert torch.equal(cached.images, ds.images)
        rows.append(("load from cache", f"{t_cache:.3f} s", f"{len(ds) / t_cache:,.0f}"))

    loader = DataLoader(
        cached, batch_size=args.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

    def one_pass() -> int:
        return sum(len(batch["image"]) for batch in loader)

    seen, t_pass = timed(one_pass, args.repeat)
    assert seen == len(cached)
    rows.append(
        (
            f"DataLoader pass (batch {args.batch_size}, shuffle)",
            f"{t_pass:.3f} s",
            f"{seen / t_pass:,.0f}",
        )
    )

    more, note = folder_rows(args.folder_images, args.folder_size, args.repeat)
    rows += more

    s = args.image_size
    print(
        f"built-in set: {len(ds)} images of {s}x{s} ({config.n_subjects} subjects x "
        f"{config.slices_per_subject} slices, labelled={config.labelled}), "
        f"cache file {size_mb:.1f} MB, torch threads {torch.get_num_threads()}; "
        f"cache and loader: best of {args.repeat}"
    )
    print(note)
    print()
    print_table(["step", "time", "images/s"], rows)


if __name__ == "__main__":
    main()
