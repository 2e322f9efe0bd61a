"""Ablation of the modern GAN recipe: the plain DCGAN, then each piece added in turn.

    python benchmarks/gan_ablation.py --quick                  # smoke run: about 1 min on 2 cores
    python benchmarks/gan_ablation.py                          # full: hours on 2 AMX cores
    python benchmarks/gan_ablation.py --resume                 # continue it in a later session
    python benchmarks/gan_ablation.py --resume --jobs 2        # a row's two seeds at once
    python benchmarks/gan_ablation.py --rows baseline ema --seeds 0 1 2

The rows, the data, the budget and the scores are :mod:`medgan_utils.evaluation.ablation`'s
(read its docstring). Each (row, seed) cell trains into a run folder of its own
(``--runs``), so an interrupted cell resumes from its last epoch; after every cell the
record (``--out``, JSON) and a summary per row and feature space (the same name with
``.csv``: means and standard deviations over seeds, floor/FID) are rewritten atomically, and
``--resume`` skips the cells they already hold. The full record is shipped in the package
(``medgan_utils/recorded/gan_ablation_full.json``, the default ``--out``), where chapter 3
reads it. In ``--quick`` mode (or with ``MEDGAN_QUICK=1``) everything is small: a smoke test
of the script, not a measurement.

The full record was measured in bf16 on CPUs with AMX (about 90 training images/s a cell
on one thread: some 25 minutes a cell). On a CPU without bf16 units ``--precision auto``
means fp32 there, about a quarter of that speed for width 64 (21 images/s on one thread of
an AVX2 EPYC), and ``run_ablation`` refuses to add fp32 cells to the bf16 record: resume it
on a machine like the one that measured it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from _common import print_table

from medgan_utils.evaluation.ablation import (
    METRICS,
    RECORDED_ABLATION,
    ablation_settings,
    run_ablation,
    score_text,
)
from medgan_utils.settings import data_home, quick_mode


def print_summary(summary: list[dict[str, Any]]) -> None:
    header = ["row", "features", *(f"{m} (floor)" for m in METRICS), "floor/FID", "images/s"]
    rows = [
        [
            line["label"],
            line["extractor"],
            *(score_text(line, m) for m in METRICS),
            f"{line['floor_over_fid']:.2f}" if "floor_over_fid" in line else "-",
            f"{line['images_per_s']:.1f}",
        ]
        for line in summary
    ]
    print_table(header, rows, 2)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke configuration")
    parser.add_argument("--out", type=Path, help=f"record (JSON; default {RECORDED_ABLATION})")
    parser.add_argument("--runs", type=Path, help="run folders (default under MEDGAN_HOME)")
    parser.add_argument("--resume", action="store_true", help="skip the cells --out holds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    parser.add_argument("--rows", nargs="+", help="row keys to run (default: all, in order)")
    parser.add_argument("--epochs", type=int, help="budget per cell (default 30; quick 2)")
    parser.add_argument("--width", type=int, help="channel multiplier (default 64; quick 16)")
    parser.add_argument("--batch-size", type=int, help="default 64; quick 32")
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument(
        "--extractors", nargs="+", default=["domain", "anatomy"], help="feature spaces"
    )
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="a row's seeds trained at once (threads split)"
    )
    args = parser.parse_args(argv)
    quick = args.quick or quick_mode()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = ablation_settings(
        quick,
        width=args.width,
        batch_size=args.batch_size,
        epochs=args.epochs,
        extractors=args.extractors,
        ema_decay=args.ema_decay,
        precision=args.precision,
    )
    mode = spec["mode"]
    home = data_home() / "gan_ablation"
    out = args.out or (home / "gan_ablation_quick.json" if quick else RECORDED_ABLATION)
    runs = args.runs or home / f"runs_{mode}"
    try:
        record = run_ablation(
            spec,
            runs,
            out,
            seeds=args.seeds,
            rows=args.rows,
            resume=args.resume,
            command=["python", "benchmarks/gan_ablation.py", *sys.argv[1:]],
            jobs=args.jobs,
        )
    except ValueError as err:
        parser.error(str(err))
    print(
        f"{mode} ablation: {spec['epochs']} epochs of {spec['train_data']['n_subjects']} "
        f"subjects x 32 slices at {spec['image_size']} px, width {spec['width']}, batch "
        f"{spec['batch_size']}, seeds {args.seeds}; {spec['n_eval']} images per set; "
        f"mean ± sd over seeds (floor: real vs real); {record['hardware']}"
    )
    print()
    print_summary(record["summary"])
    return out


if __name__ == "__main__":
    print(main())
