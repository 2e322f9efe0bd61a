"""The modern GAN recipe, measured: the plain DCGAN, then each piece tried in turn.

Rows, in the order they are tried:

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

The rows form a *roadmap* (as in Liu et al., 2022, "A ConvNet for the 2020s"): each row
adds its piece to the best recipe so far, and the piece stays in the recipe for the rows
below only if it raised the :func:`recipe_score` (floor/FID, the mean over seeds and
feature spaces) above the best row so far; otherwise it is dropped and the next row starts
from the same recipe again. So a piece that hurts on these data does not drag down every
row after it, and the last kept row is the recipe the measurements chose. Each cell
records the exact configuration it trained (``configs``, ``kept``).

Every (row, seed) cell trains on the same data (the built-in brain-MRI set at 64 px, the
shipped model's 128 virtual subjects, seed 0) for the same budget (the same number of
images seen) with its training seed, through :func:`~medgan_utils.gan.runs.train_run` into
a run folder of its own, so an interrupted cell resumes from its last epoch. Its exported
generator (the EMA weights where the row has EMA) is then scored by
:func:`~medgan_utils.evaluation.evaluate.evaluate` against real slices of 48 virtual
subjects it never saw (seed 1), as the shipped model is scored: FID, KID, precision and
recall in each feature space, each beside its real-vs-real floor. Training images/s is
images seen over the run's wall time (on a shared machine it measures the load too;
``benchmarks/train_throughput.py --tables recipe`` times each piece on its own).

:func:`run_ablation` rewrites the record (JSON) and a summary per row and feature space
(the same name with ``.csv``) atomically after every cell, and skips the cells a record
already holds. ``benchmarks/gan_ablation.py`` is its command line; chapter 3 shows the
full-mode record shipped in the package (:data:`RECORDED_ABLATION`,
:func:`load_recorded_ablation`) and reruns the ablation in quick mode.

Example:
    >>> spec = ablation_settings(quick=True)
    >>> record = run_ablation(spec, runs="runs/ablation", out="ablation.json")  # doctest: +SKIP
    >>> ablation_table(record["summary"])                                   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medgan_utils.errors import DataError
from medgan_utils.settings import RECORDED, atomic_path

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "METRICS",
    "POLICY",
    "RECORDED_ABLATION",
    "Row",
    "ablation_settings",
    "ablation_table",
    "recipe_score",
    "roadmap",
    "load_recorded_ablation",
    "plot_ablation",
    "recipe_rows",
    "run_ablation",
    "score_text",
    "summarise",
]

#: The full-mode record of the ablation, as ``benchmarks/gan_ablation.py`` wrote it.
RECORDED_ABLATION = RECORDED / "gan_ablation_full.json"
#: DiffAugment's policy in the ablation (all of :data:`~medgan_utils.gan.augment.AUGMENTATIONS`).
POLICY = "translation,cutout,brightness,contrast"
METRICS = ("fid", "kid", "precision", "recall")


@dataclass(frozen=True)
class Row:
    """One row: what it adds to the row above (DCGANConfig and TrainConfig overrides)."""

    key: str
    label: str
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


def recipe_rows(batch_size: int, image_size: int, ema_decay: float = 0.999) -> list[Row]:
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


def recipe_score(cells: Sequence[dict[str, Any]], extractors: Sequence[str]) -> float:
    """How close a row's generators come to real data: for each feature space, the mean
    real-vs-real floor over the mean FID (over the row's seeds); then the mean over spaces.
    1 is as good as real data; higher is better."""
    ratios = []
    for ext in extractors:
        fids = [c["metrics"][ext]["fid"] for c in cells if "fid" in c["metrics"][ext]]
        if not fids:
            raise ValueError(f"no FID in the {ext} space: n_eval must exceed its dimension")
        ratios.append(np.mean([f["floor"] for f in fids]) / np.mean([f["value"] for f in fids]))
    return float(np.mean(ratios))


def roadmap(
    rows: Sequence[Row],
    cells: Sequence[dict[str, Any]],
    extractors: Sequence[str],
    seeds: Sequence[int],
) -> list[dict[str, Any]]:
    """Each row's configuration and, once all of ``seeds`` are recorded for it, its score
    and whether its piece stayed in the recipe.

    Row ``i`` trains the recipe of the best row above it plus its own piece; it is kept
    when its :func:`recipe_score` beats every row above it (the baseline is always kept).

    Returns:
        One dict per row, in order, up to the first row not yet fully measured (which is
        included, with its configuration, ``score`` and ``kept`` None): ``key``, ``label``,
        ``model`` and ``train`` (overrides of the defaults), ``score``, ``kept``.
    """
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    best = -np.inf
    out = []
    for row in rows:
        config = {"model": {**model, **row.model}, "train": {**train, **row.train}}
        mine = [c for c in cells if c["row"] == row.key and c["seed"] in seeds]
        line: dict[str, Any] = {"key": row.key, "label": row.label, **config}
        if {c["seed"] for c in mine} != set(seeds):
            out.append({**line, "score": None, "kept": None})
            break
        score = recipe_score(mine, extractors)
        kept = score > best
        if kept:
            best, model, train = score, config["model"], config["train"]
        out.append({**line, "score": score, "kept": bool(kept)})
    return out


def ablation_settings(
    quick: bool = False,
    *,
    width: int | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    extractors: Sequence[str] = ("domain", "anatomy"),
    ema_decay: float = 0.999,
    precision: str = "auto",
) -> dict[str, Any]:
    """Everything that fixes the measurements (a resumed record must have the same).

    Full mode: width 64 (the shipped DCGAN), batch 64, 30 epochs of 128 virtual subjects x
    32 slices (122,880 images seen), 768 images per evaluation set, 5 real splits. Quick
    mode: width 16, batch 32, 2 epochs of 8 subjects, 160 images, 2 splits: a smoke test of
    the code, not a measurement.
    """
    return {
        "mode": "quick" if quick else "full",
        "image_size": 64,
        "width": width or (16 if quick else 64),
        "batch_size": batch_size or (32 if quick else 64),
        "epochs": epochs or (2 if quick else 30),
        "train_data": {"data": "builtin", "n_subjects": 8 if quick else 128, "seed": 0},
        "eval_data": {"data": "builtin", "n_subjects": 12 if quick else 48, "seed": 1},
        "n_eval": 160 if quick else 768,
        "n_splits": 2 if quick else 5,
        "extractors": list(extractors),
        "ema_decay": ema_decay,
        "precision": precision,
    }


def _train_cell(
    spec: dict[str, Any],
    seed: int,
    overrides: tuple[dict, dict],
    folder: Path,
    command: Sequence[str],
) -> dict[str, Any]:
    """Train (or finish) one cell into ``folder``; its run.json's record."""
    from medgan_utils.gan.models import DCGANConfig
    from medgan_utils.gan.runs import train_run
    from medgan_utils.gan.train import TrainConfig

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
        train_run(
            data["data"],
            folder,
            model,
            config,
            resume=resume,
            progress=False,
            data_options=options,
            command=list(command),
        )
    return json.loads(record_file.read_text())


def _evaluate_cell(spec: dict[str, Any], folder: Path, real: Any) -> dict[str, Any]:
    """FID, KID, precision, recall (with floors) of the cell's exported generator."""
    from medgan_utils.evaluation.evaluate import evaluate
    from medgan_utils.gan.zoo import load_generator

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


def _measure_cell(
    spec: dict[str, Any],
    row: str,
    seed: int,
    overrides: tuple[dict, dict],
    folder: Path,
    command: Sequence[str],
    real: Any = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train one (row, seed) cell, score it against ``real`` (the evaluation set, loaded
    here when None: a worker process loads its own), and return its record entry."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    if real is None:
        real = _evaluation_set(spec)
    run = _train_cell(spec, seed, overrides, folder, command)
    start = time.perf_counter()
    metrics = _evaluate_cell(spec, folder, real)
    steps = run["n_images"] // spec["batch_size"]
    images = run["epochs_done"] * steps * spec["batch_size"]
    return {
        "row": row,
        "seed": seed,
        "images_seen": images,
        "train_wall_s": run["wall_time_s"],
        "images_per_s": images / max(run["wall_time_s"], 1e-9),
        "eval_wall_s": round(time.perf_counter() - start, 1),
        "precision_used": run["precision"],
        "model": overrides[0],
        "train": overrides[1],
        "metrics": metrics,
    }


def _evaluation_set(spec: dict[str, Any]) -> Any:
    """The real images every cell is scored against (``spec["eval_data"]``)."""
    from medgan_utils.data.load import load_dataset

    data = spec["eval_data"]
    return load_dataset(
        data["data"], spec["image_size"], n_subjects=data["n_subjects"], seed=data["seed"]
    )


def summarise(
    rows: Sequence[Row], cells: Sequence[dict[str, Any]], spec: dict[str, Any]
) -> list[dict[str, Any]]:
    """One line per (row, feature space): means and standard deviations over seeds, the
    mean floors, floor/FID and images/s."""
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


def _write(record: dict[str, Any], out: Path) -> None:
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


def run_ablation(
    spec: dict[str, Any],
    runs: str | Path,
    out: str | Path,
    *,
    seeds: Sequence[int] = (0, 1),
    rows: Sequence[str] | None = None,
    resume: bool = False,
    command: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Train and score every (row, seed) cell; the record (also written to ``out``).

    Args:
        spec: :func:`ablation_settings`.
        runs: a folder for the cells' run folders (``runs/ROW/seedS``).
        out: the record (JSON; its summary beside it as ``.csv``), rewritten after each cell.
        seeds: training seeds, at least two (a row's spread over seeds is part of its result).
        rows: row keys to run (default: all, in order); each needs the rows above it
            measured (the roadmap builds on them).
        resume: continue ``out`` and the run folders (cells ``out`` holds are skipped).
        command: the command line recorded in each run (default ``sys.argv``).
        log: called with a line of progress per cell (default: print to stderr).
        jobs: a row's seeds trained at once, each in a process of its own with
            ``torch.get_num_threads() // jobs`` threads (the rows stay in order: each
            builds on the verdicts above it). Seeds are independent, so on a machine with
            more cores than one training uses, ``jobs=2`` can nearly halve the wall time.

    Raises:
        ValueError: fewer than two seeds, fewer than one job, an unknown row, a row whose
            rows above are not measured, an existing ``out`` or run folder without
            ``resume``, or an ``out`` measured with other settings.
    """
    from medgan_utils.gan.runs import hardware_summary
    from medgan_utils.settings import pick_device

    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    out, runs = Path(out), Path(runs)
    if jobs < 1:
        raise ValueError(f"jobs: need at least 1, got {jobs}")
    if len(set(seeds)) < 2:
        raise ValueError(f"seeds: need at least 2 different training seeds per row, got {seeds}")
    all_rows = recipe_rows(spec["batch_size"], spec["image_size"], spec["ema_decay"])
    known = [r.key for r in all_rows]
    unknown = sorted(set(rows or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown rows {unknown}; choose from {known}")
    chosen = [r for r in all_rows if not rows or r.key in rows]
    exts = spec["extractors"]

    record: dict[str, Any] = {"settings": spec, "cells": []}
    if out.exists():
        if not resume:
            raise ValueError(f"{out} exists: resume it, or write to another file")
        record = json.loads(out.read_text())
        if record.get("settings") != spec:
            raise ValueError(f"{out} was measured with other settings: write to another file")
    record.update(
        settings=spec,
        rows=[{"key": r.key, "label": r.label, "adds": {**r.model, **r.train}} for r in all_rows],
        hardware=hardware_summary(pick_device("auto")),
        runs=str(runs),
    )
    _check_precision(record, spec)
    done = {(c["row"], c["seed"]) for c in record["cells"]}
    real = None  # loaded once, when a cell is measured in this process
    for row in chosen:
        plan = roadmap(all_rows, record["cells"], exts, seeds)
        if row.key not in [line["key"] for line in plan]:
            missing = plan[-1]["key"]
            raise ValueError(f"row {row.key!r} builds on the rows above it: run {missing!r} first")
        config = next(line for line in plan if line["key"] == row.key)
        todo = []
        for seed in seeds:
            if (row.key, seed) in done:
                say(f"{row.key} seed {seed}: recorded, skipped")
                continue
            folder = runs / row.key / f"seed{seed}"
            if folder.exists() and not resume:
                raise ValueError(f"{folder} exists: resume, or use another runs folder")
            say(f"{row.key} seed {seed}: training into {folder}")
            todo.append((seed, folder))
        overrides = (config["model"], config["train"])
        cmd = list(command or sys.argv)
        if jobs == 1 or len(todo) < 2:
            for seed, folder in todo:
                real = real if real is not None else _evaluation_set(spec)
                record["cells"].append(
                    _measure_cell(spec, row.key, seed, overrides, folder, cmd, real)
                )
                _finish(record, all_rows, seeds, out)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            import torch

            threads = max(1, torch.get_num_threads() // jobs)
            spawn = multiprocessing.get_context("spawn")  # no forked torch thread pools
            with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=spawn) as pool:
                futures = [
                    pool.submit(_measure_cell, spec, row.key, s, overrides, f, cmd, None, threads)
                    for s, f in todo
                ]
                for future in as_completed(futures):
                    cell = future.result()
                    say(f"{row.key} seed {cell['seed']}: measured")
                    record["cells"].append(cell)
                    _finish(record, all_rows, seeds, out)
    _finish(record, all_rows, seeds, out)
    return record


def _check_precision(record: dict[str, Any], spec: dict[str, Any]) -> None:
    """Refuse to add cells trained in another number format than the recorded ones.

    ``precision="auto"`` means bf16 on CPUs with AMX or AVX512-BF16 and fp32 elsewhere, so
    one record resumed on another machine could mix the two: the rows would then differ by
    hardware as well as by recipe (and fp32 on a CPU without bf16 units is several times
    slower, so the budget would not fit the session either).
    """
    import torch

    from medgan_utils.settings import pick_device, pick_precision

    used = sorted({c["precision_used"] for c in record["cells"]})
    dtype = pick_precision(pick_device("auto"), spec["precision"]) or torch.float32
    here = str(dtype).replace("torch.", "")
    if used and used != [here]:
        raise ValueError(
            f"the recorded cells were trained in {' and '.join(used)}, but precision "
            f"{spec['precision']!r} means {here} on this machine (no bf16 units?): resume on "
            "a machine like the one that measured them, or start another record"
        )


def _finish(record: dict[str, Any], rows: Sequence[Row], seeds: Sequence[int], out: Path) -> None:
    """Summary and roadmap from the cells, then the record and its CSV, written atomically."""
    spec = record["settings"]
    order = {row.key: i for i, row in enumerate(rows)}  # parallel cells land in any order
    record["cells"].sort(key=lambda c: (order.get(c["row"], len(order)), c["seed"]))
    record["summary"] = summarise(rows, record["cells"], spec)
    record["roadmap"] = roadmap(rows, record["cells"], spec["extractors"], seeds)
    kept = [line for line in record["roadmap"] if line["kept"]]
    record["recipe"] = kept[-1]["key"] if kept else None
    _write(record, out)


def load_recorded_ablation(path: str | Path | None = None) -> dict[str, Any]:
    """The ablation record ``benchmarks/gan_ablation.py`` wrote (default: the full-mode one
    shipped in the package, :data:`RECORDED_ABLATION`).

    Raises:
        DataError: a missing or unreadable file, or one without cells and summary.
    """
    path = Path(path or RECORDED_ABLATION)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(path, f"cannot read the ablation record: {err}") from err
    if not isinstance(record, dict) or not {"settings", "cells", "summary"} <= set(record):
        raise DataError(path, "not an ablation record (settings, cells and summary)")
    return record


def score_text(line: dict[str, Any], metric: str, digits: int = 3) -> str:
    """A summary line's metric as ``mean ± sd (floor)``; ``-`` where it was not measured."""
    if metric not in line:
        return "-"
    sd = line.get(f"{metric}_sd")
    pm = f" ± {sd:.{digits}g}" if sd is not None else ""
    return f"{line[metric]:.{digits}g}{pm} ({line[f'{metric}_floor']:.{digits}g})"


def ablation_table(record: dict[str, Any], digits: int = 3) -> pd.DataFrame:
    """The record as a table: one row per (recipe row, feature space); each metric as
    ``mean ± sd (floor)`` over seeds, floor/FID, the row's :func:`recipe_score`, whether
    its piece stayed in the recipe, and training images/s."""
    import pandas as pd

    plan = {line["key"]: line for line in record.get("roadmap") or []}
    kept = {True: "kept", False: "dropped", None: "-"}
    return pd.DataFrame(
        [
            {
                "recipe": line["label"],
                "features": line["extractor"],
                **{f"{m} (floor)": score_text(line, m, digits) for m in METRICS},
                "floor/FID": round(line["floor_over_fid"], 2) if "floor_over_fid" in line else None,
                "score": round(plan[line["row"]]["score"], 3)
                if plan.get(line["row"], {}).get("score") is not None
                else None,
                "piece": kept[plan.get(line["row"], {}).get("kept")],
                "images/s": round(line["images_per_s"], 1),
                "seeds": line["n_seeds"],
            }
            for line in record["summary"]
        ]
    )


def plot_ablation(record: dict[str, Any], metrics: Sequence[str] = ("fid", "precision")) -> Figure:
    """One panel per (metric, feature space): each training seed's score per recipe row
    (points), their mean (bar) and the real-vs-real floor (dashed), with seaborn.

    The points are the seeds themselves, not a seaborn estimate: with two or three seeds a
    confidence band would claim more than the data hold.
    """
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    labels = {r["key"]: r["label"] for r in record["rows"]}
    order = [r["key"] for r in record["rows"] if any(c["row"] == r["key"] for c in record["cells"])]
    spaces = record["settings"]["extractors"]
    long = pd.DataFrame(
        [
            {
                "row": labels[c["row"]],
                "seed": c["seed"],
                "space": space,
                "metric": metric,
                "value": c["metrics"][space][metric]["value"],
                "floor": c["metrics"][space][metric]["floor"],
            }
            for c in record["cells"]
            for space in spaces
            for metric in metrics
            if metric in c["metrics"][space]
        ]
    )
    fig, axes = plt.subplots(
        len(metrics),
        len(spaces),
        figsize=(4.2 * len(spaces), 2.2 + 1.6 * len(metrics)),
        squeeze=False,
        sharey="row",
    )
    names = [labels[k] for k in order]
    for i, metric in enumerate(metrics):
        for j, space in enumerate(spaces):
            ax = axes[i][j]
            part = long[(long.metric == metric) & (long.space == space)]
            sns.barplot(part, x="value", y="row", order=names, errorbar=None, ax=ax, alpha=0.35)
            sns.stripplot(part, x="value", y="row", order=names, ax=ax, color="black", size=4)
            floor = part["floor"].mean()
            ax.axvline(floor, ls="--", color="tab:green", label="real vs real")
            better = "lower" if metric in ("fid", "kid") else "higher"
            ax.set(title=f"{space}: {metric} ({better} is better)", xlabel=metric, ylabel="")
            if i == 0 and j == len(spaces) - 1:
                ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
