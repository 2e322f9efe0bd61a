"""Run the fine-tuning experiment grid and record it for the book.

    python scripts/finetune_experiments.py            # full: 25 to 45 min on 2 CPU cores
    MEDGAN_QUICK=1 python scripts/finetune_experiments.py --out /tmp/quick.json

Real data: the built-in labelled set (96 virtual subjects, seed 0), split once by subject
into a training pool, a validation split and a test split. Synthetic data: the shipped pair
of generators (``BUILTIN_SYNTHETIC``), trained on other virtual subjects (the lesion model on
seed 1, the no-lesion model on the unlabelled set), so no test subject reached a generator.
``pretrain`` fine-tunes the shipped classifier that was trained on synthetic scans only.
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
from medgan_utils.downstream.config import FinetuneConfig
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
    args = parser.parse_args(argv)
    quick = quick_mode()
    n_values = (50, 200) if quick else (50, 100, 200, 500, None)
    config = FinetuneConfig(
        n_synthetic=400 if quick else 2000,
        n_bootstrap=200 if quick else 1000,
        seed=args.seed,
        pretrained="lesion-classifier-synthetic",
    )
    real = load_dataset("builtin-labelled", 64, n_subjects=args.n_subjects, seed=args.seed)
    start = time.perf_counter()
    results = run_experiments(real, BUILTIN_SYNTHETIC, n_values, config=config)
    record = {
        "mode": "quick" if quick else "full",
        "command": ["python", "scripts/finetune_experiments.py", *sys.argv[1:]],
        "real": {"data": "builtin-labelled", "n_subjects": args.n_subjects, "seed": args.seed},
        "synthetic": BUILTIN_SYNTHETIC,
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


if __name__ == "__main__":
    print(main())
