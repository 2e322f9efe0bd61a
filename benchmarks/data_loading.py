"""Time the built-in brain-MRI set: first build, load from cache, and a DataLoader pass.

Usage:
    python benchmarks/data_loading.py                      # the default 48 subjects x 32 slices
    python benchmarks/data_loading.py --n-subjects 8 --image-size 32   # a quick run

The first build is timed once (it writes the cache); timings vary with machine load.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from _common import print_table, timed
from torch.utils.data import DataLoader

from medgan_utils.data.builtin import BuiltinConfig, cache_file, load_builtin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=BuiltinConfig.n_subjects)
    parser.add_argument("--image-size", type=int, default=64, choices=(32, 64, 128))
    parser.add_argument("--labelled", action="store_true", help="time the labelled variant")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for cache and loader")
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

    s = args.image_size
    print(
        f"built-in set: {len(ds)} images of {s}x{s} ({config.n_subjects} subjects x "
        f"{config.slices_per_subject} slices, labelled={config.labelled}), "
        f"cache file {size_mb:.1f} MB, torch threads {torch.get_num_threads()}; "
        f"cache and loader: best of {args.repeat}"
    )
    print()
    print_table(["step", "time", "images/s"], rows)


if __name__ == "__main__":
    main()
