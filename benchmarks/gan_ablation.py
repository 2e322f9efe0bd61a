"""Ablation of the modern GAN recipe: the plain DCGAN, then each piece added in turn.

    python benchmarks/gan_ablation.py --quick                  # smoke run: about 2 min on 2 cores
    python benchmarks/gan_ablation.py                          # full: hours on 2 CPU cores
    python benchmarks/gan_ablation.py --resume                 # continue it in a later session
    python benchmarks/gan_ablation.py --rows baseline ema --seeds 0 1 2

Rows (cumulative: each row keeps every piece above it; the last is the full recipe):

====================  =================================================================
baseline              DCGAN (Radford et al., 2015), non-saturating BCE loss
+ ema                 average of G's weights for sampling (Yazıcı et al., 2019), warm-up
+ hinge-sn            hinge loss, spectral norm in D (Miyato et al., 2018)
+ r1                  lazy R1 on real images (Mescheder et al., 2018; StyleGAN2's every 16
                      steps), gamma = 0.0002 S² / batch (StyleGAN2-ADA's heuristic)
+ diffaugment         translation, cutout, brightness, contrast on all D inputs (Zhao et al.,
                      2020)
+ upsample            nearest upsample + 3x3 conv in G instead of transposed conv (Odena et
                      al., 2016)
+ mbstd               minibatch standard deviation in D, groups of 4 (Karras et al., 2018)
====================  =================================================================

Every (row, seed) cell trains on the same data (the built-in brain-MRI set at 64 px, the
shipped model's 128 virtual subjects, seed 0) for the same budget (``--epochs``: the same
number of images seen) with its training seed, through
:func:`medgan_utils.gan.runs.train_run` into a run folder of its own (``--runs``), so an
interrupted cell resumes from its last epoch. Its exported generator (the EMA weights where
the row has EMA) is then scored by :func:`medgan_utils.evaluate` against real slices of 48
virtual subjects it never saw (seed 1), as ``scripts/evaluate_shipped_model.py`` scores the
shipped model: FID, KID, precision and recall in each feature space of ``--extractors``,
each beside its real-vs-real floor (two disjoint real halves, averaged over ``--n-splits``
random splits). Training images/s is images seen over the run's wall time.

After every cell the record (``--out``, JSON) and a summary per row and feature space (the
same name with ``.csv``: means and standard deviations over seeds, floor/FID) are rewritten
atomically; ``--resume`` skips the cells they already hold. Chapter 3 reads the JSON. In
``--quick`` mode (or with ``MEDGAN_QUICK=1``) everything is small: a smoke test of the
script, not a measurement.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import print_table

from medgan_utils.data.load import load_dataset
from medgan_utils.evaluation.evaluate import evaluate
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.gan.runs import hardware_summary, train_run
from medgan_utils.gan.train import TrainConfig
from medgan_utils.gan.zoo import load_generator
from medgan_utils.settings import atomic_path, data_home, pick_device, quick_mode

ROOT = Path(__file__).resolve().parents[1]
FULL_RESULTS = ROOT / "notebooks" / "results" / "gan_ablation_full.json"
POLICY = "translation,cutout,brightness,contrast"
METRICS = ("fid", "kid", "precision", "recall")


@dataclass(frozen=True)
class Row:
    """One row: what it adds to the row above (DCGANConfig and TrainConfig overrides)."""

    key: str
    label: str
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


def recipe_rows(batch_size: int, image_size: int, ema_decay: float) -> list[Row]:
    """The rows in order; each adds one piece."""
    gamma = 0.0002 * image_size**2 / batch_size  # StyleGAN2-ADA's R1 weight for a resolution
    return [
        Row("baseline", "DCGAN (bce)"),
        Row("ema", "+ EMA of G", train={"ema_decay": ema_decay, "ema_warmup": True}),
        Row("hinge-sn", "+ hinge, spectral norm", {"spectral_norm": True}, {"loss": "hinge"}),
        Row("r1", "+ lazy R1", train={"r1_gamma": round(gamma, 6), "r1_interval": 16}),
        Row("diffaugment", "+ DiffAugment", train={"augment": POLICY}),
        Row("upsample", "+ upsample + conv", {"upsample": "nearest"}),
        Row("mbstd", "+ minibatch std (full recipe)", {"minibatch_std": 4}),
    ]


def cumulative(rows: list[Row]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """``row key -> (model overrides, train overrides)`` with every row above it included."""
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    out = {}
    for row in rows:
        model, train = {**model, **row.model}, {**train, **row.train}
        out[row.key] = (dict(model), dict(train))
    return out


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Everything that fixes the measurements: a resumed record must have the same."""
    quick = args.quick
    return {
        "mode": "quick" if quick else "full",
        "image_size": 64,
        "width": args.width or (16 if quick else 64),
        "batch_size": args.batch_size or (32 if quick else 64),
        "epochs": args.epochs or (2 if quick else 30),
        "train_data": {"data": "builtin", "n_subjects": 8 if quick else 128, "seed": 0},
        "eval_data": {"data": "builtin", "n_subjects": 12 if quick else 48, "seed": 1},
        "n_eval": 160 if quick else 768,
        "n_splits": 2 if quick else 5,
        "extractors": args.extractors,
        "ema_decay": args.ema_decay,
        "precision": args.precision,
    }


def train_cell(
    spec: dict[str, Any], row: str, seed: int, overrides: tuple[dict, dict], folder: Path
) -> dict[str, Any]:
    """Train (or finish) one cell into ``folder``; its run.json's record."""
    model = DCGANConfig(image_size=spec["image_size"], width=spec["width"], **overrides[0])
    config = TrainConfig(
        epochs=spec["epochs"],
        batch_size=spec["batch_size"],
        seed=seed,
        precision=spec["precision"],
        **overrides[1],
    )
    data = spec["train_data"]
    options = {k: v for k, v in data.items() if k != "data"}
    record_file = folder / "run.json"
    done = json.loads(record_file.read_text()) if record_file.exists() else {}
    if done.get("epochs_done") != spec["epochs"] or not (folder / "generator.json").exists():
        resume = (folder / "checkpoint.safetensors").exists()
        command = ["python", "benchmarks/gan_ablation.py", *sys.argv[1:]]
        train_run(
            data["data"],
            folder,
            model,
            config,
            resume=resume,
            progress=False,
            data_options=options,
            command=command,
        )
    return json.loads(record_file.read_text())


def evaluate_cell(spec: dict[str, Any], folder: Path, real: Any) -> dict[str, Any]:
    """FID, KID, precision, recall (with floors) of the cell's exported generator."""
    G, _ = load_generator(folder)
    out = {}
    for name in spec["extractors"]:
        report = evaluate(
            real,
            G,
            n=spec["n_eval"],
            extractor=name,
            seed=0,
            check_memorization=False,
            n_splits=spec["n_splits"],
        )
        out[name] = {k: s.to_dict() for k, s in report.scores.items() if k in METRICS}
    return out


def summarise(rows: list[Row], cells: list[dict[str, Any]], spec: dict) -> list[dict]:
    """One line per (row, feature space): means and standard deviations over seeds."""
    lines = []
    for row in rows:
        mine = [c for c in cells if c["row"] == row.key]
        if not mine:
            continue
        for ext in spec["extractors"]:
            line: dict[str, Any] = {"row": row.key, "label": row.label, "extractor": ext}
            line["n_seeds"] = len(mine)
            for metric in METRICS:
                scores = [c["metrics"][ext][metric] for c in mine if metric in c["metrics"][ext]]
                if not scores:
                    continue
                values = np.array([s["value"] for s in scores])
                line[metric] = float(values.mean())
                line[f"{metric}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else None
                line[f"{metric}_floor"] = float(np.mean([s["floor"] for s in scores]))
            if "fid" in line:
                line["floor_over_fid"] = line["fid_floor"] / line["fid"]
            line["images_per_s"] = float(np.mean([c["images_per_s"] for c in mine]))
            line["train_wall_s"] = float(np.mean([c["train_wall_s"] for c in mine]))
            lines.append(line)
    return lines


def write(record: dict[str, Any], out: Path) -> None:
    """The JSON record and its CSV summary, each atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    summary = record["summary"]
    if not summary:
        return
    fields = list(dict.fromkeys(k for line in summary for k in line))
    with atomic_path(out.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(summary)


def print_summary(summary: list[dict[str, Any]]) -> None:
    def fmt(line: dict[str, Any], metric: str) -> str:
        if metric not in line:
            return "-"
        sd = line.get(f"{metric}_sd")
        pm = f" ± {sd:.3g}" if sd is not None else ""
        return f"{line[metric]:.3g}{pm} ({line[f'{metric}_floor']:.3g})"

    header = ["row", "features", *(f"{m} (floor)" for m in METRICS), "floor/FID", "images/s"]
    rows = [
        [
            line["label"],
            line["extractor"],
            *(fmt(line, m) for m in METRICS),
            f"{line['floor_over_fid']:.2f}" if "floor_over_fid" in line else "-",
            f"{line['images_per_s']:.1f}",
        ]
        for line in summary
    ]
    print_table(header, rows, 2)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke configuration")
    parser.add_argument("--out", type=Path, help=f"record (JSON; default {FULL_RESULTS})")
    parser.add_argument("--runs", type=Path, help="run folders (default under MEDGAN_HOME)")
    parser.add_argument("--resume", action="store_true", help="skip the cells --out holds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    parser.add_argument("--rows", nargs="+", help="row keys to run (default: all, in order)")
    parser.add_argument("--epochs", type=int, help="budget per cell (default 30; quick 2)")
    parser.add_argument("--width", type=int, help="channel multiplier (default 64; quick 16)")
    parser.add_argument("--batch-size", type=int, help="default 64; quick 32")
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--extractors", nargs="+", default=["domain"], help="feature spaces")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args(argv)
    args.quick = args.quick or quick_mode()
    if args.threads:
        torch.set_num_threads(args.threads)
    if len(set(args.seeds)) < 2:
        parser.error("--seeds needs at least 2 different training seeds per row")
    spec = settings(args)
    mode = spec["mode"]
    out = args.out or (
        data_home() / "gan_ablation" / "gan_ablation_quick.json" if args.quick else FULL_RESULTS
    )
    runs = args.runs or data_home() / "gan_ablation" / f"runs_{mode}"
    rows = recipe_rows(spec["batch_size"], spec["image_size"], args.ema_decay)
    known = [r.key for r in rows]
    if args.rows:
        unknown = sorted(set(args.rows) - set(known))
        if unknown:
            parser.error(f"unknown --rows {unknown}; choose from {known}")
    chosen = [r for r in rows if not args.rows or r.key in args.rows]
    overrides = cumulative(rows)

    record: dict[str, Any] = {"settings": spec, "cells": []}
    if out.exists():
        if not args.resume:
            parser.error(f"{out} exists: pass --resume to continue it, or another --out")
        record = json.loads(out.read_text())
        if record.get("settings") != spec:
            parser.error(f"{out} was measured with other settings: use another --out")
    record.update(
        settings=spec,
        rows=[{"key": r.key, "label": r.label, "adds": {**r.model, **r.train}} for r in rows],
        configs={k: {"model": m, "train": t} for k, (m, t) in overrides.items()},
        hardware=hardware_summary(pick_device("auto")),
        runs=str(runs),
    )
    done = {(c["row"], c["seed"]) for c in record["cells"]}
    eval_data = spec["eval_data"]
    real = load_dataset(
        eval_data["data"],
        spec["image_size"],
        n_subjects=eval_data["n_subjects"],
        seed=eval_data["seed"],
    )
    for row in chosen:
        for seed in args.seeds:
            if (row.key, seed) in done:
                print(f"{row.key} seed {seed}: recorded, skipped", file=sys.stderr)
                continue
            folder = runs / row.key / f"seed{seed}"
            if folder.exists() and not args.resume:
                parser.error(f"{folder} exists: pass --resume, or another --runs")
            print(f"{row.key} seed {seed}: training into {folder}", file=sys.stderr, flush=True)
            run = train_cell(spec, row.key, seed, overrides[row.key], folder)
            start = time.perf_counter()
            metrics = evaluate_cell(spec, folder, real)
            images = run["epochs_done"] * (run["n_images"] // spec["batch_size"])
            images *= spec["batch_size"]
            record["cells"].append(
                {
                    "row": row.key,
                    "seed": seed,
                    "images_seen": images,
                    "train_wall_s": run["wall_time_s"],
                    "images_per_s": images / max(run["wall_time_s"], 1e-9),
                    "eval_wall_s": round(time.perf_counter() - start, 1),
                    "precision_used": run["precision"],
                    "metrics": metrics,
                }
            )
            record["summary"] = summarise(rows, record["cells"], spec)
            write(record, out)
    record["summary"] = summarise(rows, record["cells"], spec)
    write(record, out)
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
