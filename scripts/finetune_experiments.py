"""Run the fine-tuning experiment grid and record it for the book.

    python scripts/finetune_experiments.py            # full: 25 to 45 min on 2 CPU cores
    MEDGAN_QUICK=1 python scripts/finetune_experiments.py --out /tmp/quick.json
    python scripts/finetune_experiments.py --runs 3 --synthetic brain-mri-conditional-64 \
        --strategies synthetic --n-values 50 --out tstr.json   # train on synthetic, test on real

Real data: the built-in labelled set (96 virtual subjects, seed 0), split once by subject
into a training pool, a validation split and a test split. Synthetic data: the shipped pair
of generators (``BUILTIN_SYNTHETIC``), trained on other virtual subjects (the lesion model on
seed 1, the no-lesion model on the unlabelled set), so no test subject reached a generator.
``pretrain`` fine-tunes the shipped classifier that was trained on synthetic scans only.
``--synthetic`` takes any other source (a conditional model's name, ``lesion=A,no_lesion=B``);
``--runs R`` trains every cell with R training seeds, so that the intervals include the
randomness of training (``FinetuneConfig.runs``); ``--strategies`` and ``--n-values`` pick
part of the grid (``real`` always runs, as the reference).
The record (config, results, command, hardware, wall time) goes to
``medgan_utils/recorded/finetune_full.json`` (shipped with the package); chapter 6 reads it
with :func:`medgan_utils.downstream.results.load_recorded_grid`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from medgan_utils.data.load import load_dataset
from medgan_utils.downstream.config import STRATEGIES, FinetuneConfig
from medgan_utils.downstream.finetune import run_experiments
from medgan_utils.downstream.results import RECORDED_GRID, results_table
from medgan_utils.downstream.synthetic_sources import BUILTIN_SYNTHETIC
from medgan_utils.gan.runs import hardware_summary
from medgan_utils.settings import atomic_path, pick_device, quick_mode

RESULTS = RECORDED_GRID


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--n-subjects", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=1, help="training seeds per cell")
    parser.add_argument(
        "--synthetic", default=None, help="a source synthetic_images takes (default: the pair)"
    )
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument(
        "--n-values", nargs="+", type=_n_value, help="real training images per row, or 'all'"
    )
    args = parser.parse_args(argv)
    quick = quick_mode()
    n_values = args.n_values or ((50, 200) if quick else (50, 100, 200, 500, None))
    synthetic = args.synthetic or BUILTIN_SYNTHETIC
    config = FinetuneConfig(
        n_synthetic=400 if quick else 2000,
        n_bootstrap=200 if quick else 1000,
        seed=args.seed,
        pretrained="lesion-classifier-synthetic",
        runs=args.runs,
    )
    real = load_dataset("builtin-labelled", 64, n_subjects=args.n_subjects, seed=args.seed)
    start = time.perf_counter()
    results = run_experiments(real, synthetic, n_values, args.strategies, config=config)
    record = {
        "mode": "quick" if quick else "full",
        "command": ["python", "scripts/finetune_experiments.py", *sys.argv[1:]],
        "real": {"data": "builtin-labelled", "n_subjects": args.n_subjects, "seed": args.seed},
        "synthetic": synthetic,
        "config": asdict(config),
        "hardware": hardware_summary(pick_device("auto")),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "results": [r.to_dict() for r in results],
    }
    print(results_table(results).to_string(index=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return args.out


def _n_value(text: str) -> int | None:
    """``--n-values``: a count of at least 1, or ``all`` (the whole training pool)."""
    if text == "all":
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 or 'all', got {text!r}")
    return int(text)


if __name__ == "__main__":
    print(main())
