"""Time the built-in brain-MRI set (first build, load from cache, a DataLoader pass), a
folder of PNGs read with and without a decompression bomb among them, and a folder of
JPEGs read by ``load_dataset`` against a plain PIL loop, with peak memory.

Usage:
    python benchmarks/data_loading.py                      # the default 48 subjects x 32 slices
    python benchmarks/data_loading.py --n-subjects 8 --image-size 32 --folder-images 300

The first build is timed once (it writes the cache); timings vary with machine load. The
PNG rows show what the pixel budget (``medgan_utils.data.limits``) costs: the same
folder read alone and with the issue's 8 KB PNG bomb (30000 x 30000, 1-bit) among its
files, which is refused from its header and skipped, and the guard's own work (a ``stat``
and a budget claim per file) timed alone.

The folder table is issue 16's case: ``--folder-images`` JPEGs (default 3,000) of
``--folder-size`` (256) px in four class subfolders, the layout of the public brain-tumour
MRI set, read into one ``(N, 1, 64, 64)`` float32 tensor. Each row runs in a fresh
process, so that its peak RSS (``VmHWM``) is its own: the plain loop (PIL,
``F.interpolate``, torch's default threads, and one thread), ``load_dataset`` without the
cache, with it (first read, writing it) and again (reading it). The targets: a first read
no slower than the loop, a cached read at least 20x faster, and a peak of at most
``1.5 x`` the tensor above the interpreter: above the same process after its imports, and
above a bare ``python -c "import torch"``.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
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


CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


def jpeg_folder(root: Path, n: int, side: int, mode: str) -> Path:
    """``n`` MRI-like JPEGs (a bright blob, noise) of ``side`` px in four class subfolders,
    dated a minute back (as a dataset downloaded earlier: the cache takes settled files)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side] / side
    for c in CLASSES:
        (root / c).mkdir(parents=True)
    for i in range(n):
        cx, cy, r = rng.uniform(0.3, 0.7, 3)
        blob = 200 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.1 * r))
        pixels = np.clip(blob + rng.normal(0, 10, (side, side)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).convert(mode).save(
            root / CLASSES[i % 4] / f"{i:05d}.jpg", quality=90
        )
    then = time.time() - 60
    for p in root.rglob("*"):
        os.utime(p, (then, then))
    return root


# One row of the folder table, run in a fresh interpreter: prints its time and memory.
_ROW = r"""
import json, resource, sys, time
spec = json.loads(sys.argv[1])
kind = spec["kind"]

def rss(field):  # MiB: VmRSS (now) or VmHWM (peak) of this process image (Linux)
    # ru_maxrss would do elsewhere, but on Linux it keeps the peak of the forked copy of
    # the parent (this benchmark) across exec.
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(field + ":")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import torch
if kind.startswith("loop"):
    from pathlib import Path
    import numpy as np
    import torch.nn.functional as F
    from PIL import Image
    if kind == "loop1":
        torch.set_num_threads(1)
elif kind in ("package", "ours"):
    from medgan_utils.data.load import load_dataset
after_imports = rss("VmRSS")
start = time.perf_counter()
s = spec["size"]
if kind.startswith("loop"):  # the plain loop of issue 16
    files = sorted(Path(spec["folder"]).glob("*/*.jpg"))
    x = torch.empty(len(files), 1, s, s)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            a = torch.from_numpy(np.asarray(im.convert("L"), dtype=np.float32)) / 127.5 - 1
        x[i] = F.interpolate(a[None, None], size=(s, s), mode="bilinear", antialias=True)[0]
elif kind == "ours":
    ds = load_dataset(spec["folder"], s, cache=spec["cache"])
    x = ds.images
seconds = time.perf_counter() - start
out = {"seconds": seconds, "after_imports": after_imports, "peak": rss("VmHWM")}
if kind.startswith("loop") or kind == "ours":
    out["note"] = "" if kind.startswith("loop") else ds.cache_note
    if spec.get("save"):
        import numpy as np
        np.save(spec["save"], x.numpy())
print(json.dumps(out))
"""


def _row(kind: str, folder: Path, size: int, home: Path, **extra: object) -> dict:
    spec = {"kind": kind, "folder": str(folder), "size": size, **extra}
    env = {**os.environ, "MEDGAN_HOME": str(home), "MEDGAN_PROGRESS": "0"}
    proc = subprocess.run(
        [sys.executable, "-c", _ROW, json.dumps(spec)], capture_output=True, text=True, env=env
    )
    if proc.returncode:
        raise RuntimeError(f"{kind} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])


def folder_table(n: int, side: int, mode: str, size: int, repeat: int) -> None:
    """Issue 16's case, each row in a fresh process; print the table with the targets."""
    with tempfile.TemporaryDirectory(prefix="medgan-bench-jpegs-") as tmp:
        folder = jpeg_folder(Path(tmp) / "Training", n, side, mode)
        mb = sum(p.stat().st_size for p in folder.rglob("*.jpg")) / 1e6

        def best(kind: str, fresh_home: bool = False, **extra: object) -> dict:
            runs = []
            for i in range(repeat):
                home = Path(tmp) / (f"home-{kind}-{i}" if fresh_home else "home")
                runs.append(_row(kind, folder, size, home, **extra))
            return min(runs, key=lambda r: r["seconds"])

        bare = best("bare")
        package = best("package")
        loop = best("loop", save=str(Path(tmp) / "loop.npy"))
        loop1 = best("loop1")
        off = best("ours", cache=False, save=str(Path(tmp) / "ours.npy"))
        first = best("ours", fresh_home=True, cache=True)
        _row("ours", folder, size, Path(tmp) / "home", cache=True)  # the cache for the next row
        cached = best("ours", cache=True)
        diff = float(
            np.abs(np.load(Path(tmp) / "loop.npy") - np.load(Path(tmp) / "ours.npy")).max()
        )

    tensor = n * size * size * 4 / 2**20
    allowed = 1.5 * tensor
    reference = min(loop["seconds"], loop1["seconds"])

    def mem(r: dict) -> tuple[str, str, str, str]:
        own = r["peak"] - r["after_imports"]
        return (
            f"{r['peak']:.0f}",
            f"{own:.0f}",
            "yes" if own <= allowed else "NO",
            "yes" if r["peak"] <= bare["peak"] + allowed else "NO",
        )

    def speed(r: dict, goal: str) -> tuple[str, str, str]:
        t = r["seconds"]
        if goal == "first":
            return f"{t:.2f}", f"<= {reference:.2f} s", "yes" if t <= reference else "NO"
        return f"{t:.3f}", f">= 20x: {reference / t:.0f}x", "yes" if reference / t >= 20 else "NO"

    rows = [
        ("interpreter: python + torch", "-", "-", "-", f"{bare['peak']:.0f}", "-", "-", "-"),
        (
            "interpreter: python + torch + medgan_utils",
            "-",
            "-",
            "-",
            f"{package['peak']:.0f}",
            "-",
            "-",
            "-",
        ),
        (
            "plain loop: PIL + F.interpolate",
            f"{loop['seconds']:.2f}",
            "(reference)",
            "-",
            *mem(loop),
        ),
        (
            "plain loop, torch.set_num_threads(1)",
            f"{loop1['seconds']:.2f}",
            "(reference)",
            "-",
            *mem(loop1),
        ),
        ("load_dataset, cache=False", *speed(off, "first"), *mem(off)),
        ("load_dataset, first read (writes the cache)", *speed(first, "first"), *mem(first)),
        ("load_dataset, cached read", *speed(cached, "cached"), *mem(cached)),
    ]
    print(
        f"\nfolder: {n} {mode} JPEGs of {side}x{side} ({mb:.0f} MB) in 4 class subfolders -> "
        f"({n}, 1, {size}, {size}) float32 = {tensor:.1f} MiB; each row a fresh process, best "
        f"of {repeat}; time: the read alone (imports not counted); speed targets against the "
        f"faster loop; memory in MiB: peak RSS, and the read's own (peak - RSS after "
        f"imports), both against 1.5 x tensor = {allowed:.1f} MiB"
    )
    print(f"max |load_dataset - plain loop| = {diff:.5f} (uint8 storage: at most 1/255 = 0.00392)")
    print(f"cached read: {cached['note']}")
    print()
    print_table(
        [
            "folder read",
            "time (s)",
            "target",
            "met",
            "peak RSS",
            "read's own",
            "own <= 1.5 x tensor",
            "peak <= bare torch + 1.5 x tensor",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=BuiltinConfig.n_subjects)
    parser.add_argument("--image-size", type=int, default=64, choices=(32, 64, 128))
    parser.add_argument("--labelled", action="store_true", help="time the labelled variant")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for every timed row")
    parser.add_argument("--png-images", type=int, default=200, help="PNGs in the bomb rows")
    parser.add_argument("--png-size", type=int, default=256, help="side of those PNGs")
    parser.add_argument(
        "--folder-images", type=int, default=3000, help="JPEGs in the folder table (issue 16)"
    )
    parser.add_argument("--folder-size", type=int, default=256, help="side of those JPEGs")
    parser.add_argument(
        "--folder-mode", choices=("L", "RGB"), default="RGB", help="the JPEGs' colour mode"
    )
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

    more, note = folder_rows(args.png_images, args.png_size, args.repeat)
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
    folder_table(
        args.folder_images, args.folder_size, args.folder_mode, args.image_size, args.repeat
    )


if __name__ == "__main__":
    main()
