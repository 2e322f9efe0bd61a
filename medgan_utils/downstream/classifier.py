"""A small ResNet-style classifier for 64x64 grey-scale scans: fit, predict, checkpoints.

Why this network: the fine-tuning experiments train on 50 to a few hundred real images, so
the classifier must be small (about 0.3 M parameters at ``width=16``) and train reliably from
scratch. Residual blocks with BatchNorm (He et al. 2016) do that without tuning; one block per
resolution (64 -> 32 -> 16 -> 8 -> 4) is a "ResNet-10" cut to 64x64 inputs, and global average
pooling makes the score independent of where in the slice a lesion sits. By default it uses
no ImageNet weights: the scans are grey-scale 64x64 and outside pre-training would blur what
the experiments measure, the effect of pre-training on *synthetic* scans; where torchvision
and the internet are available, ``arch="resnet18-imagenet"`` starts from ImageNet instead.

The classifier outputs one logit per image, the score of the *positive* class (``lesion``
for the built-in set); :func:`fit_classifier` trains it on class-balanced batches with
binary cross-entropy, stops early on the validation AUROC and moves the decision threshold
to Youden's on the validation split. :func:`binary_metrics` and
:func:`bootstrap_metrics` evaluate it: AUROC, accuracy, sensitivity and specificity with
percentile bootstrap intervals (over subjects when given) and paired differences.

Example:
    >>> model = LesionClassifier(ClassifierConfig(width=8))
    >>> model(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2])
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medgan_utils.errors import DataError
from medgan_utils.settings import PRETRAINED, atomic_path, pick_device, pick_precision, set_seed

__all__ = [
    "ClassifierConfig",
    "FitConfig",
    "LesionClassifier",
    "fit_classifier",
    "set_youden_threshold",
    "predict",
    "save_classifier",
    "load_classifier",
    "METRICS",
    "Estimate",
    "binary_metrics",
    "bootstrap_resamples",
    "bootstrap_metrics",
]

METRICS = ("auroc", "accuracy", "sensitivity", "specificity")
ARCHS = ("resnet10", "resnet18-imagenet")
#: Shipped classifiers: name -> weights file under ``pretrained/``.
SHIPPED_CLASSIFIERS = {
    "lesion-classifier-synthetic": "lesion_classifier_synthetic/classifier.safetensors"
}


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of :class:`LesionClassifier`.

    Args:
        image_size: side of the square input images; other sizes are rejected.
        channels: input channels (1 for grey-scale scans).
        width: channels of the first stage; the four stages have ``width * (1, 2, 4, 8)``.
        dropout: dropout before the final linear layer.
        arch: ``"resnet10"`` (this module's network, trained from scratch or from a
            classifier pre-trained on synthetic scans) or ``"resnet18-imagenet"``:
            torchvision's ResNet-18 with ImageNet weights (downloaded; needs torchvision and
            the internet, e.g. on Colab), the grey-scale input repeated to three channels.

    Example:
        >>> ClassifierConfig(width=8).image_size
        64
    """

    image_size: int = 64
    channels: int = 1
    width: int = 16
    dropout: float = 0.2
    arch: str = "resnet10"

    def __post_init__(self) -> None:
        if self.image_size < 16 or self.width < 1 or self.channels < 1:
            raise ValueError(f"invalid classifier config {self}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")


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


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual shortcut: ``(N, c_in, S, S) -> (N, c_out, S/stride, ...)``."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _Repeat(nn.Module):
    """``(N, C, S, S) -> (N, C * k, S, S)`` by repeating the channels."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(1, self.k, 1, 1)


class LesionClassifier(nn.Module):
    """ResNet-style binary classifier: ``(N, 1, 64, 64)`` in ``[-1, 1]`` -> logits ``(N,)``.

    Example:
        >>> LesionClassifier(ClassifierConfig(width=8))(torch.zeros(1, 1, 64, 64)).shape
        torch.Size([1])
    """

    def __init__(self, config: ClassifierConfig | None = None, imagenet: bool = False) -> None:
        super().__init__()
        self.config = config = config or ClassifierConfig()
        if config.arch == "resnet18-imagenet":
            self._init_resnet18(imagenet)
            return
        w = config.width
        self.stem = nn.Sequential(  # (N, C, 64, 64) -> (N, w, 64, 64)
            nn.Conv2d(config.channels, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()
        )
        self.stages = nn.Sequential(
            BasicBlock(w, w, 2),  # -> (N, w, 32, 32)
            BasicBlock(w, 2 * w, 2),  # -> (N, 2w, 16, 16)
            BasicBlock(2 * w, 4 * w, 2),  # -> (N, 4w, 8, 8)
            BasicBlock(4 * w, 8 * w, 2),  # -> (N, 8w, 4, 4)
        )
        self.head = nn.Sequential(  # global average pool -> (N, 8w) -> (N, 1)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(8 * w, 1)
        )

    def _init_resnet18(self, imagenet: bool) -> None:
        """torchvision's ResNet-18 as ``stem`` + ``stages``; ImageNet weights if asked."""
        try:
            from torchvision.models import ResNet18_Weights, resnet18
        except Exception as err:  # torchvision missing, or built for another torch
            raise RuntimeError(
                "arch='resnet18-imagenet' needs torchvision matching your torch "
                f"(pip install torchvision) ({type(err).__name__}: {err}); "
                "use the shipped 'lesion-classifier-synthetic' offline"
            ) from err
        net = resnet18(weights=ResNet18_Weights.IMAGENET1K_V1 if imagenet else None)
        channels = self.config.channels
        self.stem = nn.Sequential(  # grey-scale -> the 3 channels ImageNet weights expect
            _Repeat(3 // channels), net.conv1, net.bn1, net.relu, net.maxpool
        )
        self.stages = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(self.config.dropout),
            nn.Linear(512, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(x))
        # The head runs in fp32 even under autocast: bf16 logits would tie many scores.
        with torch.autocast(x.device.type, enabled=False):
            return self.head(features.float())[:, 0]


def check_images(images: torch.Tensor, config: ClassifierConfig, name: str = "images") -> None:
    """Raise a :class:`DataError` unless ``images`` is ``(N, C, S, S)`` with the config's size."""
    expected = (config.channels, config.image_size, config.image_size)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise DataError(
            name,
            f"images of shape {tuple(images.shape[1:])}, but the classifier takes "
            f"{expected[0]}x{expected[1]}x{expected[2]}: load them with image_size="
            f"{config.image_size}",
        )


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to 4 pixels (background -1 fills in)."""
    flip = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    dy, dx = (int(v) for v in torch.randint(-4, 5, (2,), generator=g))
    x = torch.roll(x, (dy, dx), dims=(-2, -1))
    return x


@torch.no_grad()
def predict(model: LesionClassifier, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Probability of the positive class for each image.

    Args:
        model: a classifier (its device and the autocast of :func:`pick_precision` are used).
        images: ``(N, 1, S, S)`` in ``[-1, 1]``, ``S`` the classifier's ``image_size``.

    Returns:
        ``(N,)`` float64 array in ``[0, 1]``.
    """
    check_images(images, model.config)
    device = next(model.parameters()).device
    dtype = pick_precision(device)
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device, memory_format=_memory_format(dtype))
        with _autocast(device, dtype):
            out.append(torch.sigmoid(model(x).float()).cpu())
    model.train(was_training)
    return torch.cat(out).double().numpy() if out else np.zeros(0)


def _memory_format(dtype: torch.dtype | None) -> torch.memory_format:
    # channels_last lets oneDNN/cuDNN pick their fastest conv kernels under autocast.
    return torch.channels_last if dtype is not None else torch.contiguous_format


def _autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


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
    model.to(device, memory_format=_memory_format(dtype))
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
        model.head[-1].bias -= math.log(best / (1 - best))
    return best


def save_classifier(
    model: LesionClassifier, path: str | Path, info: dict[str, Any] | None = None
) -> Path:
    """Write the weights (safetensors) with the config and ``info`` as JSON metadata."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"classifier_config": asdict(model.config), **(info or {})}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"medgan": json.dumps(meta, default=str)})
    return Path(path)


def load_classifier(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[LesionClassifier, dict[str, Any]]:
    """Load a :func:`save_classifier` file (or a shipped name, see
    :data:`SHIPPED_CLASSIFIERS`) in eval mode, with its metadata."""
    from safetensors import SafetensorError, safe_open

    path = PRETRAINED / SHIPPED_CLASSIFIERS[str(path)] if str(path) in SHIPPED_CLASSIFIERS else path

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["medgan"])
            state = {k: f.get_tensor(k) for k in f.keys()}
        config = ClassifierConfig(**meta["classifier_config"])
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as err:
        raise DataError(path, f"not a classifier checkpoint ({err})") from err
    model = LesionClassifier(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:  # the same message zoo and features give (weights.load_state)
        first = str(err).splitlines()[1:2] or [str(err)]
        raise DataError(path, f"weights do not match the config: {first[0].strip()}") from err
    return model.to(device).eval(), meta


# -- evaluation: metrics and bootstrap confidence intervals --------------------------------


def binary_metrics(
    targets: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """AUROC, accuracy, sensitivity and specificity of positive-class scores.

    AUROC is scikit-learn's ``roc_auc_score``; the three threshold metrics are counted
    directly (they equal ``accuracy_score`` and ``recall_score`` with ``pos_label`` 1 and 0,
    which cost a few milliseconds each: too slow for thousands of bootstrap resamples).
    """
    from sklearn.metrics import roc_auc_score

    targets = np.asarray(targets).astype(bool)
    pred = np.asarray(scores) >= threshold
    pos = max(int(targets.sum()), 1)
    neg = max(int((~targets).sum()), 1)
    return {
        "auroc": float(roc_auc_score(targets, scores)),
        "accuracy": float((pred == targets).mean()),
        "sensitivity": float((pred & targets).sum() / pos),
        "specificity": float((~pred & ~targets).sum() / neg),
    }


def bootstrap_resamples(
    groups: Sequence[str], n_boot: int = 1000, seed: int = 0
) -> list[np.ndarray]:
    """Image indices of ``n_boot`` cluster-bootstrap resamples: whole groups (subjects) drawn
    with replacement. Pass one distinct group per image for a plain image bootstrap."""
    groups = np.asarray(groups)
    names, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(names))]
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([members[k] for k in rng.integers(0, len(names), len(names))])
        for _ in range(n_boot)
    ]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap confidence interval ``[low, high]``."""

    value: float
    low: float
    high: float

    def to_text(self, signed: bool = False) -> str:
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(self.value)} [{f.format(self.low)}, {f.format(self.high)}]"


def bootstrap_metrics(
    targets: np.ndarray,
    scores: np.ndarray,
    reference: np.ndarray | None = None,
    resamples: Sequence[np.ndarray] | None = None,
    groups: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[dict[str, Estimate], dict[str, Estimate] | None]:
    """Metrics with percentile bootstrap intervals, and the paired difference to ``reference``.

    Args:
        targets: ``(N,)`` 0/1; scores, reference: ``(N,)`` positive-class probabilities.
        resamples: index arrays to use (share them across strategies); default
            :func:`bootstrap_resamples` of ``groups`` (one group per image when ``None``).
        level: coverage of the intervals.

    Returns:
        ``{metric: Estimate}`` for ``scores`` and, with ``reference``, for
        ``metric(scores) - metric(reference)`` on the same resamples. Resamples with a
        single class (AUROC undefined) are skipped.
    """
    targets, scores = np.asarray(targets), np.asarray(scores)
    if resamples is None:
        groups = np.arange(len(targets)).astype(str) if groups is None else groups
        resamples = bootstrap_resamples(groups, n_boot, seed)
    point = binary_metrics(targets, scores)
    ref_point = binary_metrics(targets, reference) if reference is not None else None
    own, diff = [], []
    for idx in resamples:
        t = targets[idx]
        if t.min() == t.max():
            continue
        m = binary_metrics(t, scores[idx])
        own.append([m[k] for k in METRICS])
        if reference is not None:
            r = binary_metrics(t, reference[idx])
            diff.append([m[k] - r[k] for k in METRICS])
    if not own:
        raise DataError("test split", "every bootstrap resample has a single class")
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]

    def estimates(values: list[list[float]], centre: dict[str, float]) -> dict[str, Estimate]:
        lo, hi = np.percentile(np.asarray(values), q, axis=0)
        return {k: Estimate(centre[k], float(lo[j]), float(hi[j])) for j, k in enumerate(METRICS)}

    metrics = estimates(own, point)
    if ref_point is None:
        return metrics, None
    return metrics, estimates(diff, {k: point[k] - ref_point[k] for k in METRICS})
