"""Run folders: one training run's configs, checkpoints, samples and provenance.

``train_run`` is what ``medgan train`` calls. A run folder holds::

    run.json                  data, configs, command, hardware, wall time, finished epochs
    checkpoint.safetensors    models + optimisers + history (to resume)
    generator.safetensors     the generator's weights   } what `medgan generate` loads
    generator.json            its config and provenance }
    samples/epoch_001.png     the fixed-noise grid after each epoch
    history.csv, losses.png   per-epoch losses and D outputs

A folder that holds a different run is never overwritten, and one process at a time
trains into a folder (:func:`~medgan_utils.settings.claim_folder`: a second ``medgan
train`` into the same ``--out`` stops at once with an error naming the first).

What a run does when it fails:

- it **diverges** (a loss or a weight becomes NaN or inf): :class:`NonFiniteGuard` stops
  it with a :class:`~medgan_utils.errors.TrainingDivergedError` naming the epoch, the step
  and the value; no non-finite weights are saved, so the checkpoint and generator of the
  last good epoch stay. ``--resume`` with lower learning rates continues from there
  (``lr_g`` and ``lr_d`` may change on resume; ``run.json`` records each change).
- it **fails before its first epoch ends** (bad data, a diverged first epoch, Ctrl-C,
  an error): nothing is kept: no ``run.json``, and the folder itself goes if the run
  created it, so the same command can simply be run again. A ``run.json`` left by a run
  that was killed before its first checkpoint (``kill -9``, power loss) holds nothing
  to resume either: the next start, with or without ``--resume``, starts over.
- its checkpoint is **corrupt** (``--resume``): a one-line error naming the file.

With several processes (``torchrun``; :mod:`~medgan_utils.gan.distributed`) every process
trains, and rank 0 alone claims the folder, decides whether to resume, and writes: the
folder ends up exactly as a one-process run leaves it. All processes read the checkpoint
to resume, so ``--out`` must be a folder every process sees (on several machines, a shared
file system). ``run.json`` and ``generator.json`` record the processes of the latest start
(``distributed``: ``world_size``, ``backend``, ``per_rank_batch``); once a run is resumed
with another number of processes, ``run.json``'s ``distributed_changes`` lists each
setting with the epoch it started from. A run stops at epoch boundaries only, so a resume
with another number of processes starts a fresh epoch.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from medgan_utils.data.load import load_dataset
from medgan_utils.errors import DataError
from medgan_utils.gan.callbacks import (
    Checkpoint,
    NonFiniteGuard,
    ProgressBar,
    SampleGrid,
    check_finite_weights,
)
from medgan_utils.gan.distributed import World
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.gan.train import Callback, GANTrainer, TrainConfig
from medgan_utils.settings import atomic_path, claim_folder, cpu_has_bf16, is_empty_folder

__all__ = ["train_run", "hardware_summary"]

# TrainConfig fields that may change when a run is resumed: the target and the device, and
# the learning rates (to continue a run that diverged more gently; recorded in run.json).
# With none of them changed but the epochs, a resumed run ends with the same weights as an
# uninterrupted one.
RESUMABLE_CHANGES = {"epochs", "device", "lr_g", "lr_d"}
LEARNING_RATES = ("lr_g", "lr_d")
RUN_FILE, CHECKPOINT = "run.json", "checkpoint.safetensors"


def hardware_summary(device: torch.device) -> str:
    """One line naming the device and torch build: the GPU model, or the CPU's model, core
    count and vector units (whether it has bf16 units: the same run is several times
    slower in fp32 on a CPU without them), e.g. ``"AMD EPYC CPU, 2 cores, AVX2 (no bf16
    units); torch 2.13.0+cpu; 1 thread"``."""
    threads = torch.get_num_threads()
    build = f"torch {torch.__version__}; {threads} thread{'s' * (threads != 1)}"
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}; {build}"
    units = "AMX/AVX512-BF16"
    if not cpu_has_bf16():
        units = f"{torch.backends.cpu.get_cpu_capability()} (no bf16 units)"
    return f"{_cpu_model()} CPU, {os.cpu_count()} cores, {units}; {build}"


def _cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else the architecture (x86_64)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _comparable(spec: dict[str, Any]) -> dict[str, Any]:
    # A run.json written before an option existed lacks its key: compare with defaults filled in.
    try:
        model = DCGANConfig.from_dict(spec["model_config"]).to_dict()
        train = TrainConfig.from_dict(spec["train_config"]).to_dict()
    except (TypeError, ValueError, AttributeError):
        return spec  # unreadable configs: unequal to any valid spec
    train = {k: v for k, v in train.items() if k not in RESUMABLE_CHANGES}
    return {**spec, "model_config": model, "train_config": train}


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
    world: World | None = None,
) -> GANTrainer:
    """Train on ``data`` into the run folder ``out`` (or continue it with ``resume``).

    Args:
        data: ``"builtin"``, ``"builtin-labelled"`` or a path :func:`load_dataset` reads.
        out: the run folder; created if missing.
        model_config, config: architecture and training settings.
        resume: continue the run in ``out`` from its last epoch checkpoint, up to
            ``config.epochs``; reaches the same weights as an uninterrupted run (of as
            many processes; any other number continues from the same state). Besides
            ``epochs`` and ``device``, ``lr_g`` and ``lr_d`` may differ from the run's
            (to continue a run that diverged; ``run.json`` records ``lr_changes``).
        data_options: passed to :func:`load_dataset` (e.g. ``{"n_subjects": 96}``).
        command: the command line to record in ``run.json``.
        only_class: train an unconditional generator on this class of a labelled set only
            (one generator per class, e.g. ``"lesion"``).
        world: the processes training together (from
            :func:`~medgan_utils.gan.distributed.join`); None: this process alone. Only
            rank 0 writes; ``callbacks`` run in every process.

    Raises:
        DataError: ``out`` holds a different run, no checkpoint to resume or a corrupt one,
            or other files; bad data. FolderBusyError: another process trains into
            ``out``. TrainingDivergedError: a loss or weight became NaN or inf (the last
            good epoch's files stay).
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
    world = world or World()
    main = world.is_main  # rank 0 alone claims, decides and writes
    with claim_folder(out) if main else nullcontext(out):
        # decided once, before rank 0 writes anything the others could misread
        previous, resume = world.broadcast_object(
            _previous_run(out, spec, resume) if main else None
        )
        ours: list[Callback] = []
        try:
            if not main:
                world.barrier()  # rank 0 loads first: it builds any cache the others read
            dataset, classes = _training_set(data, model_config, data_options, only_class)
            if main:
                world.barrier()
            info: dict[str, Any] = {"data": str(data), "classes": classes}
            if only_class is not None:
                info["only_class"] = only_class  # every image shows this class
            ours = [NonFiniteGuard(out)]  # first: it vets the weights the others save
            if main:
                ours += [ProgressBar()] if progress else []
                ours += [SampleGrid(out / "samples"), Checkpoint(out, info)]
            trainer = GANTrainer(model_config, config, [*ours, *callbacks], world)
            if resume:
                _load_checkpoint(trainer, out / CHECKPOINT)
            record = _record(trainer, spec, previous, len(dataset), command)
            if main:
                _write_json(out / RUN_FILE, record)
                trainer.callbacks.append(_RunClock(record, out / RUN_FILE))
            trainer.fit(dataset)
        except BaseException:
            for cb in ours:
                if isinstance(cb, ProgressBar) and cb.bar is not None:
                    cb.bar.close()  # a bar left open by an error garbles the terminal
            if main and not (out / CHECKPOINT).exists():  # failed before its first epoch ended
                _forget_start(out)
            raise
        if not main:
            return trainer
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
            "distributed",
        )
        provenance += ("only_class",) if only_class is not None else ()
        _write_json(meta_file, {**meta, **{k: record[k] for k in provenance}})
    return trainer


def _record(
    trainer: GANTrainer,
    spec: dict[str, Any],
    previous: dict[str, Any],
    n_images: int,
    command: Sequence[str] | None,
) -> dict[str, Any]:
    """What ``run.json`` records: the spec, the provenance, the progress, and the learning
    rates and numbers of processes each resume changed (``lr_changes`` and
    ``distributed_changes``, when any did)."""
    world = trainer.world
    processes = {
        "world_size": world.size,
        "backend": world.backend,
        "per_rank_batch": trainer.batch_per_rank,
    }
    record = {
        **spec,
        "command": list(command) if command is not None else sys.argv,
        "hardware": hardware_summary(trainer.device),
        "precision": str(trainer.amp_dtype or torch.float32).replace("torch.", ""),
        "n_images": n_images,
        "epochs_done": trainer.epoch,
        "wall_time_s": previous.get("wall_time_s", 0.0),
        "distributed": processes,
    }
    changes = list(previous.get("lr_changes", []))
    before = previous.get("train_config", {})
    now = {k: getattr(trainer.config, k) for k in LEARNING_RATES}
    if previous and any(before.get(k) != v for k, v in now.items()):
        changes.append({"from_epoch": trainer.epoch, **now})
    if changes:
        record["lr_changes"] = changes
    # a run recorded before this key existed trained in one process
    alone = {"world_size": 1, "backend": None, "per_rank_batch": trainer.config.batch_size}
    moves = list(previous.get("distributed_changes", []))
    was = previous.get("distributed")
    was = was if isinstance(was, dict) else alone
    if previous and was.get("world_size") != world.size:
        # every launch's processes from the first change on, the first launch's included
        moves = moves or [{"from_epoch": 0, **was}]
        moves.append({"from_epoch": trainer.epoch, **processes})
    if moves:
        record["distributed_changes"] = moves
    return record


def _previous_run(out: Path, spec: dict[str, Any], resume: bool) -> tuple[dict[str, Any], bool]:
    """The ``run.json`` of the run ``out`` holds (``{}``: none) and whether to resume it.

    Raises:
        DataError: ``out`` holds another run, a run to continue without ``resume``, a run
            with nothing to resume from, or other files.
    """
    run_file = out / RUN_FILE
    if run_file.exists():
        try:
            previous = json.loads(run_file.read_text())
            done = int(previous.get("epochs_done", 0))
        except (OSError, ValueError, TypeError, AttributeError, RecursionError) as err:
            raise DataError(run_file, f"unreadable run record ({err}); use a new --out") from err
        nothing_kept = (
            not (out / CHECKPOINT).exists() and not (out / "generator.safetensors").exists()
        )
        if done == 0 and nothing_kept:
            # killed before its first epoch ended: nothing to resume or to protect
            return {}, False
        if not resume:
            raise DataError(
                out, "already holds a run: pass --resume to continue it, or a new --out"
            )
        if _comparable({k: previous.get(k) for k in spec}) != _comparable(spec):
            raise DataError(out, "holds a different run (data or configs differ); use a new --out")
        if not (out / CHECKPOINT).exists():
            raise DataError(out, f"has no {CHECKPOINT} to resume from")
        return previous, True
    if resume:
        raise DataError(out, f"no run to resume here ({RUN_FILE} is missing)")
    if not is_empty_folder(out):
        raise DataError(out, "is not empty and is not a run folder; choose a new --out")
    return {}, False


def _training_set(
    data: str | Path,
    model_config: DCGANConfig,
    data_options: dict[str, Any] | None,
    only_class: str | None,
) -> tuple[Any, list[str]]:
    """The dataset to train on and its class names (none for one class), checked against
    the model's classes and channels."""
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
    return dataset, classes


def _load_checkpoint(trainer: GANTrainer, path: Path) -> None:
    """Restore ``trainer`` from ``path``; a corrupt file is a DataError naming it.

    The learning rates of ``trainer.config`` replace the checkpoint's (they may change on
    resume); nothing else does.
    """
    from safetensors import SafetensorError

    try:
        trainer.load_checkpoint(path)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(
            path,
            f"cannot resume from this checkpoint ({first[:200]}): it is truncated or corrupt. "
            "generator.safetensors still holds the last finished epoch; train again into a "
            "new --out",
        ) from err
    check_finite_weights(trainer, path.parent)
    for name, opt in (("lr_g", trainer.opt_g), ("lr_d", trainer.opt_d)):
        for group in opt.param_groups:
            group["lr"] = getattr(trainer.config, name)


def _forget_start(out: Path) -> None:
    """Remove what a start that failed before its first checkpoint wrote (``run.json``, the
    sample grids): nothing may block a retry or ``--resume``. Only called on a folder that
    was empty, or held such a start, when the run began."""
    (out / RUN_FILE).unlink(missing_ok=True)
    shutil.rmtree(out / "samples", ignore_errors=True)


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
