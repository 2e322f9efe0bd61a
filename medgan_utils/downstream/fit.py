"""Train the lesion classifier: balanced batches, early stopping, Youden's threshold.

:func:`fit_classifier` trains a :class:`~medgan_utils.downstream.classifier.LesionClassifier`
in place with binary cross-entropy on class-balanced batches (half of each class, so that a
0.5 threshold balances sensitivity and specificity), random flips and shifts, and AdamW; it
stops early on the validation AUROC, keeps the best epoch and moves the decision threshold to
Youden's on the validation split (:func:`set_youden_threshold`).

Example:
    >>> model = LesionClassifier(ClassifierConfig(width=8))                  # doctest: +SKIP
    >>> history = fit_classifier(model, (x, y), (x_val, y_val), FitConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medgan_utils.downstream.classifier import (
    LesionClassifier,
    _autocast,
    _memory_format,
    check_images,
    predict,
)
from medgan_utils.errors import DataError
from medgan_utils.settings import pick_device, pick_precision, set_seed
from medgan_utils.stats import binary_metrics

__all__ = ["FitConfig", "fit_classifier", "set_youden_threshold"]


@dataclass(frozen=True)
class FitConfig:
    """How to train the classifier.

    Args:
        epochs: the most passes over the training set.
        batch_size: images per step.
        lr: AdamW learning rate; weight_decay: its decoupled weight decay.
        patience: stop after this many epochs without a better validation AUROC.
        min_epochs: never stop before this many epochs.
        steps_per_epoch: optimiser steps per epoch, at least ``ceil(N / batch_size)``: with
            50 real images an "epoch" would be two steps, too few for the validation AUROC
            to say anything, so small sets are revisited (with fresh augmentation) instead.
        balanced: draw each batch half from each class (with replacement), instead of a
            class-weighted loss. At N = 50 with 15 % lesions an unbalanced batch of 32 holds
            about 5 lesions, and BatchNorm's statistics come almost only from the majority.
        augment: random horizontal flips and small shifts of the training images.
        youden: after training, move the decision threshold to the one that maximises
            sensitivity + specificity on the validation split (Youden's J) by shifting the
            output bias, so that ``predict(...) >= 0.5`` applies it. AUROC is unchanged.
        seed: seeds weights, shuffling and augmentation.
        precision: "auto" (bf16 autocast on CPUs/GPUs that support it), "fp32", "bf16", "fp16".
        device: "auto" or a torch device string.
        progress: show a tqdm bar over epochs.
    """

    epochs: int = 40
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8
    min_epochs: int = 10
    steps_per_epoch: int = 25
    balanced: bool = True
    augment: bool = True
    youden: bool = True
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    progress: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size and patience must be at least 1")


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to 4 pixels (background -1 fills in)."""
    flip = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    dy, dx = (int(v) for v in torch.randint(-4, 5, (2,), generator=g))
    x = torch.roll(x, (dy, dx), dims=(-2, -1))
    return x


def _batches(
    targets: torch.Tensor, batch_size: int, steps: int, balanced: bool, g: torch.Generator
) -> list[torch.Tensor]:
    """Index batches of one epoch: ``steps`` batches of ``batch_size`` (at least 2 images).

    Balanced: half of each batch drawn from each class with replacement. Otherwise: seeded
    reshuffles of the whole set, cut into batches (a batch of 1 is dropped: BatchNorm).
    """
    if balanced:
        pos, neg = torch.nonzero(targets > 0.5)[:, 0], torch.nonzero(targets <= 0.5)[:, 0]
        half = max(batch_size // 2, 1)
        return [
            torch.cat(
                [
                    pos[torch.randint(len(pos), (half,), generator=g)],
                    neg[torch.randint(len(neg), (batch_size - half,), generator=g)],
                ]
            )
            for _ in range(steps)
        ]
    out: list[torch.Tensor] = []
    while len(out) < steps:
        order = torch.randperm(len(targets), generator=g)
        out += [b for b in order.split(batch_size) if len(b) >= 2]
    return out[:steps]


def fit_classifier(
    model: LesionClassifier,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    config: FitConfig | None = None,
    on_epoch_end: Callable[[dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place; stop early on the validation AUROC and keep the best epoch.

    Each epoch is ``max(steps_per_epoch, ceil(N / batch_size))`` steps. With ``balanced``
    (default) every batch holds as many positives as negatives; otherwise the binary
    cross-entropy weights positives by ``n_negative / n_positive``. Either way both classes
    count equally, so a 0.5 threshold balances sensitivity and specificity.

    Args:
        model: the classifier to train (fresh, or pre-trained for fine-tuning).
        train: images ``(N, 1, S, S)`` in ``[-1, 1]`` and targets ``(N,)`` (1 = positive).
        val: the same for the validation set; it needs both classes.
        config: training settings.
        on_epoch_end: called with each epoch's logs (a live plot, a logger).

    Returns:
        One dict per epoch: ``epoch``, ``loss``, ``val_auroc``. The model ends in eval mode
        with the weights of the best validation epoch.
    """
    config = config or FitConfig()
    (x_train, y_train), (x_val, y_val) = train, val
    for name, (x, y) in (("training set", train), ("validation set", val)):
        check_images(x, model.config, name)
        if len(torch.unique(y)) < 2:
            raise DataError(name, "has a single class; it needs lesion and no-lesion images")
    set_seed(config.seed)
    device = pick_device(config.device)
    dtype = pick_precision(device, config.precision)
    model.to(device, memory_format=_memory_format(dtype))  # type: ignore[call-overload]
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    y_train = y_train.float()
    # Without balanced batches, weight the positives so that both classes count equally.
    pos_weight = ((1 - y_train).sum() / y_train.sum().clamp(min=1)).to(device)
    g = torch.Generator().manual_seed(config.seed)
    steps = max(config.steps_per_epoch, -(-len(x_train) // config.batch_size))
    best, best_state, stale, history = -1.0, copy.deepcopy(model.state_dict()), 0, []
    epochs: Any = range(config.epochs)
    if config.progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="classifier", unit="epoch", leave=False)
    for epoch in epochs:
        model.train()
        total = 0.0
        for idx in _batches(y_train, config.batch_size, steps, config.balanced, g):
            x = _augment(x_train[idx], g) if config.augment else x_train[idx]
            x = x.to(device, memory_format=_memory_format(dtype))
            with _autocast(device, dtype):
                logits = model(x).float()
            # minimise BCE: -[w y log p + (1 - y) log(1 - p)], w = 1 for balanced batches
            loss = F.binary_cross_entropy_with_logits(
                logits,
                y_train[idx].to(device),
                pos_weight=None if config.balanced else pos_weight,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        auroc = binary_metrics(y_val.numpy(), predict(model, x_val))["auroc"]
        logs = {"epoch": float(epoch + 1), "loss": total / steps, "val_auroc": auroc}
        history.append(logs)
        if on_epoch_end is not None:
            on_epoch_end(logs)
        if config.progress:
            epochs.set_postfix(loss=f"{logs['loss']:.3f}", val_auroc=f"{auroc:.3f}")
        if auroc > best:
            best, best_state, stale = auroc, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= config.patience and epoch + 1 >= config.min_epochs:
                break
    model.load_state_dict(best_state)
    model.eval()
    if config.youden:
        set_youden_threshold(model, x_val, y_val)
    return history


def set_youden_threshold(
    model: LesionClassifier, images: torch.Tensor, targets: torch.Tensor
) -> float:
    """Shift the output bias so that 0.5 becomes the Youden threshold on these images.

    Args:
        images: ``(N, 1, S, S)`` validation images; targets: ``(N,)`` 0/1, both classes.

    Returns:
        The threshold on the old probabilities (now mapped to 0.5).
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(targets.numpy(), predict(model, images))
    best = float(np.clip(thresholds[int(np.argmax(tpr - fpr))], 1e-6, 1 - 1e-6))
    with torch.no_grad():
        model.head[-1].bias -= math.log(best / (1 - best))  # type: ignore[operator,assignment]
    return best
