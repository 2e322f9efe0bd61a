"""Run folders: one training run's configs, checkpoints, samples and provenance.

``train_run`` is what ``medgan train`` calls. A run folder holds::

    run.json                  data, configs, command, hardware, wall time, finished epochs
    checkpoint.safetensors    models + optimisers + history (to resume)
    generator.safetensors     the generator's weights   } what `medgan generate` loads
    generator.json            its config and provenance }
    samples/epoch_001.png     the fixed-noise grid after each epoch
    history.csv, losses.png   per-epoch losses and D outputs

A folder that holds a different run is never overwritten.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from medgan_utils.data.load import load_dataset
from medgan_utils.errors import DataError
from medgan_utils.gan.callbacks import Checkpoint, ProgressBar, SampleGrid
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.gan.train import Callback, GANTrainer, TrainConfig
from medgan_utils.settings import atomic_path

__all__ = ["train_run", "hardware_summary"]

# TrainConfig fields that may change when a run is resumed (the target, not the recipe).
RESUMABLE_CHANGES = {"epochs", "device"}


def hardware_summary(device: torch.device) -> str:
    """One line naming the device (GPU model or CPU with its core count) and torch build."""
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"
    return f"{what}; torch {torch.__version__}; {torch.get_num_threads()} threads"


def _comparable(spec: dict[str, Any]) -> dict[str, Any]:
    train = {k: v for k, v in spec["train_config"].items() if k not in RESUMABLE_CHANGES}
    return {**spec, "train_config": train}


def train_run(
    data: str | Path,
    out: str | Path,
    model_config: DCGANConfig,
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    data_options: dict[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    command: Sequence[str] | None = None,
    only_class: str | None = None,
) -> GANTrainer:
    """Train on ``data`` into the run folder ``out`` (or continue it with ``resume``).

    Args:
        data: ``"builtin"``, ``"builtin-labelled"`` or a path :func:`load_dataset` reads.
        out: the run folder; created if missing.
        model_config, config: architecture and training settings.
        resume: continue the run in ``out`` from its last epoch checkpoint, up to
            ``config.epochs``; reaches the same weights as an uninterrupted run.
        data_options: passed to :func:`load_dataset` (e.g. ``{"n_subjects": 96}``).
        command: the command line to record in ``run.json``.
        only_class: train an unconditional generator on this class of a labelled set only
            (one generator per class, e.g. ``"lesion"``).

    Raises:
        DataError: ``out`` holds a different run or no checkpoint to resume; bad data.
    """
    out = Path(out)
    spec = {
        "data": str(data),
        "data_options": data_options or {},
        "model_config": model_config.to_dict(),
        "train_config": asdict(config),
    }
    if only_class is not None:
        spec["only_class"] = only_class
    run_file = out / "run.json"
    previous: dict[str, Any] = {}
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        if not resume:
            raise DataError(
                out, "already holds a run: pass --resume to continue it, or a new --out"
            )
        if _comparable({k: previous.get(k) for k in spec}) != _comparable(spec):
            raise DataError(out, "holds a different run (data or configs differ); use a new --out")
        if not (out / "checkpoint.safetensors").exists():
            raise DataError(out, "has no checkpoint.safetensors to resume from")
    elif resume:
        raise DataError(out, "no run to resume here (run.json is missing)")
    elif out.exists() and any(out.iterdir()):
        raise DataError(out, "is not empty and is not a run folder; choose a new --out")

    dataset: Any = load_dataset(data, model_config.image_size, **(data_options or {}))
    classes = dataset.classes
    if only_class is not None:
        if model_config.conditional:
            raise ValueError("only_class trains an unconditional generator; drop --conditional")
        if only_class not in classes:
            raise DataError(data, f"has no class {only_class!r} (classes: {classes})")
        keep = np.flatnonzero(dataset.labels.numpy() == classes.index(only_class))
        dataset, classes = Subset(dataset, keep.tolist()), []  # unconditional
    if model_config.conditional and len(classes) != model_config.num_classes:
        raise DataError(
            data,
            f"{len(classes)} classes {classes} for a generator conditioned on "
            f"{model_config.num_classes}",
        )
    channels = dataset[0]["image"].shape[0]
    if channels != model_config.channels:
        raise DataError(
            data,
            f"images have {channels} channel(s), config wants {model_config.channels}",
        )
    out.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"data": str(data), "classes": classes}
    if only_class is not None:
        info["only_class"] = only_class  # every image shows this class
    all_callbacks: list[Callback] = [SampleGrid(out / "samples"), Checkpoint(out, info)]
    if progress:
        all_callbacks.insert(0, ProgressBar())
    trainer = GANTrainer(model_config, config, [*all_callbacks, *callbacks])
    if resume:
        trainer.load_checkpoint(out / "checkpoint.safetensors")
    record = {
        **spec,
        "command": list(command) if command is not None else sys.argv,
        "hardware": hardware_summary(trainer.device),
        "precision": str(trainer.amp_dtype or torch.float32).replace("torch.", ""),
        "n_images": len(dataset),
        "epochs_done": trainer.epoch,
        "wall_time_s": previous.get("wall_time_s", 0.0),
    }
    _write_json(run_file, record)
    trainer.callbacks.append(_RunClock(record, run_file))
    trainer.fit(dataset)
    # The exported generator describes where it came from (its model card's raw material).
    meta_file = out / "generator.json"
    meta = json.loads(meta_file.read_text())
    provenance: tuple[str, ...] = (
        "command",
        "hardware",
        "precision",
        "n_images",
        "data_options",
        "wall_time_s",
    )
    provenance += ("only_class",) if only_class is not None else ()
    _write_json(meta_file, {**meta, **{k: record[k] for k in provenance}})
    return trainer


class _RunClock(Callback):
    """Adds each epoch's wall time to ``run.json`` when the epoch ends, so a run that is
    stopped and resumed still records (nearly) all the time it took."""

    def __init__(self, record: dict[str, Any], path: Path) -> None:
        self.record, self.path, self.last = record, path, time.perf_counter()

    def on_train_begin(self, trainer: GANTrainer) -> None:
        self.last = time.perf_counter()

    def on_epoch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        self.record["wall_time_s"] = round(self.record["wall_time_s"] + now - self.last, 1)
        self.record["epochs_done"], self.last = trainer.epoch, now
        _write_json(self.path, self.record)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
