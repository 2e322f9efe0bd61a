"""Callbacks for :class:`~medgan_utils.gan.train.GANTrainer`: progress, live plot, samples,
checkpoints, and the guard that stops a run that diverges. The training loop knows none of
them; each does one job."""

from __future__ import annotations

import csv
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from medgan_utils.errors import TrainingDivergedError
from medgan_utils.gan.train import Callback
from medgan_utils.settings import atomic_path
from medgan_utils.viz import save_grid_png
from medgan_utils.weights import first_non_finite

if TYPE_CHECKING:
    from medgan_utils.gan.train import GANTrainer

__all__ = [
    "ProgressBar",
    "LivePlot",
    "SampleGrid",
    "Checkpoint",
    "NonFiniteGuard",
    "check_finite_weights",
    "plot_history",
]


class ProgressBar(Callback):
    """A tqdm bar over all steps (terminal or notebook), showing the latest losses."""

    def __init__(self, leave: bool = True) -> None:
        self.leave = leave
        self.bar: Any = None

    def on_train_begin(self, trainer: GANTrainer) -> None:
        from tqdm.auto import tqdm

        total = trainer.target_epochs * trainer.steps_per_epoch
        self.bar = tqdm(
            total=total,
            initial=trainer.epoch * trainer.steps_per_epoch,
            unit="step",
            leave=self.leave,
            desc="training",
        )

    def on_batch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        self.bar.update(1)
        if trainer.step % 10 == 0:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)

    def on_epoch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        self.bar.set_description(f"epoch {trainer.epoch}/{trainer.target_epochs}")

    def on_train_end(self, trainer: GANTrainer) -> None:
        self.bar.close()


class LivePlot(Callback):
    """In a notebook: redraw losses and D(x) / D(G(z)) every ``every`` steps."""

    def __init__(self, every: int = 20) -> None:
        self.every = every
        self.steps: list[dict[str, float]] = []
        self.handle: Any = None

    def on_train_begin(self, trainer: GANTrainer) -> None:
        from IPython.display import display

        self.handle = display(display_id=True)

    def on_batch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        self.steps.append(logs)
        if trainer.step % self.every == 0:
            self._draw()

    def on_train_end(self, trainer: GANTrainer) -> None:
        self._draw()

    def _draw(self) -> None:
        import matplotlib.pyplot as plt

        fig = plot_history(self.steps, xlabel="step")
        self.handle.update(fig)
        plt.close(fig)


class SampleGrid(Callback):
    """After each epoch, the generator's images of the fixed noise: kept in ``grids``
    (``(n, C, S, S)`` tensors) and, with ``folder``, saved as ``epoch_001.png`` ..."""

    def __init__(self, folder: str | Path | None = None, nrow: int = 8) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.nrow = nrow
        self.grids: list[torch.Tensor] = []

    def on_epoch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        images = trainer.samples()
        self.grids.append(images)
        if self.folder is not None:
            save_grid_png(images, self.folder / f"epoch_{trainer.epoch:03d}.png", self.nrow)


def _networks(trainer: GANTrainer) -> list[tuple[str, nn.Module]]:
    """Every network the trainer holds (``G``, ``D``, and any other, such as an EMA copy)."""
    return [(k, m) for k, m in vars(trainer).items() if isinstance(m, nn.Module)]


def _diverged(
    trainer: GANTrainer, what: str, folder: Path | None, ended: bool = False
) -> TrainingDivergedError:
    """The error of a run that stopped being finite in the epoch under way (``ended``: in
    the epoch that just ended, which ``trainer.epoch`` already counts)."""
    done = trainer.epoch - 1 if ended else trainer.epoch
    epoch = done + 1
    batch = trainer.step - done * trainer.steps_per_epoch
    lrs = ", ".join(
        f"{k} {getattr(trainer.config, k):g}"
        for k in ("lr_g", "lr_d")
        if hasattr(trainer.config, k)
    )
    where = folder if folder is not None else "training"
    if done and folder is not None:
        kept = (
            f"the last good checkpoint is epoch {done} ({folder / 'checkpoint.safetensors'}; "
            "nothing of the diverged epoch was saved): resume it with lower learning rates"
        )
    elif done:
        kept = f"the weights of epoch {done} were the last finite ones: lower the learning rates"
    else:
        kept = "no epoch finished, nothing was saved: start again with lower learning rates"
    return TrainingDivergedError(
        where,
        f"training diverged in epoch {epoch} (batch {batch}, step {trainer.step}): {what} "
        f"({lrs}); {kept}",
        epoch=epoch,
        step=trainer.step,
        last_good=done,
    )


def check_finite_weights(
    trainer: GANTrainer, folder: Path | None = None, ended: bool = False
) -> None:
    """Raise :class:`~medgan_utils.errors.TrainingDivergedError` if a weight (or a norm
    statistic) of any of the trainer's networks is NaN or inf.

    Args:
        folder: the run folder, for the message. ended: called at the end of an epoch
            (``trainer.epoch`` already counts it), not during one.
    """
    for name, module in _networks(trainer):
        bad = first_non_finite(module.state_dict())
        if bad is not None:
            raise _diverged(trainer, f"the weight {name}.{bad} is not finite", folder, ended)


class NonFiniteGuard(Callback):
    """Stops training as soon as a logged loss or a weight is NaN or inf.

    After every batch it looks at the logged values (``loss_d``, ``loss_g``, ...; free, they
    are Python floats); at the end of every epoch at every weight, before the later
    callbacks save anything, so put it first. It raises
    :class:`~medgan_utils.errors.TrainingDivergedError` naming the epoch, the step, the
    value and the learning rates. Under fp16 loss scaling an infinite loss is expected now
    and then (the scaler skips that step), so there a loss stops the run only if the
    weights are not finite too. :func:`medgan_utils.gan.runs.train_run` always adds it.

    Args:
        folder: the run folder, named in the error with its last good checkpoint.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None

    def on_batch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        if not bad:
            return
        scaler = getattr(trainer, "scaler", None)
        if scaler is not None and scaler.is_enabled():
            check_finite_weights(trainer, self.folder)
            return
        raise _diverged(trainer, f"{bad[0]} is {logs[bad[0]]}", self.folder)

    def on_epoch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        check_finite_weights(trainer, self.folder, ended=True)


class Checkpoint(Callback):
    """After each epoch, ``checkpoint.safetensors`` (to resume) and the exported generator
    (``generator.safetensors`` + ``generator.json``) in ``folder``; at the end also
    ``history.csv`` and ``losses.png``. Every file is written atomically, and only from
    finite weights: a run that diverged never replaces a good checkpoint."""

    def __init__(self, folder: str | Path, info: dict[str, Any] | None = None) -> None:
        self.folder = Path(folder)
        self.info = info or {}

    def on_epoch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        from medgan_utils.gan.zoo import save_generator

        check_finite_weights(trainer, self.folder, ended=True)
        trainer.save_checkpoint(self.folder / "checkpoint.safetensors")
        save_generator(
            trainer.generator,  # G's moving average when the run keeps one (ema_decay)
            trainer.model_config,
            self.folder,
            {
                **self.info,
                "epochs": trainer.epoch,
                "train_config": asdict(trainer.config),
                "history": trainer.history,
            },
        )

    def on_train_end(self, trainer: GANTrainer) -> None:
        import matplotlib.pyplot as plt

        if not trainer.history:
            return
        with atomic_path(self.folder / "history.csv") as tmp, open(tmp, "w", newline="") as f:
            # every key any epoch logged (lazy R1's "r1" may be missing from some epochs)
            keys = list(dict.fromkeys(k for row in trainer.history for k in row))
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(trainer.history)
        fig = plot_history(trainer.history, xlabel="epoch")
        with atomic_path(self.folder / "losses.png") as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)


def plot_history(rows: list[dict[str, float]], xlabel: str = "epoch") -> Any:
    """Two panels: losses of D and G, and mean D(x) / D(G(z)), against steps or epochs."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(9, 3))
    x = (
        [r.get("epoch", i + 1) for i, r in enumerate(rows)]
        if xlabel == "epoch"
        else range(1, len(rows) + 1)
    )
    for key, ax, label in (
        ("loss_d", ax_loss, "discriminator"),
        ("loss_g", ax_loss, "generator"),
        ("d_real", ax_score, "D(x), real"),
        ("d_fake", ax_score, "D(G(z)), generated"),
    ):
        pts = [(xi, r[key]) for xi, r in zip(x, rows, strict=True) if key in r]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=label)
    ax_loss.set(xlabel=xlabel, ylabel="loss", title="losses")
    ax_score.set(xlabel=xlabel, ylabel="mean output", title="discriminator outputs")
    for ax in (ax_loss, ax_score):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
