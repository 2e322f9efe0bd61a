"""A small ResNet-style classifier for 64x64 grey-scale scans: the network, predict, checkpoints.

Why this network: the fine-tuning experiments train on 50 to a few hundred real images, so
the classifier must be small (about 0.3 M parameters at ``width=16``) and train reliably from
scratch. Residual blocks with BatchNorm (He et al. 2016) do that without tuning; one block per
resolution (64 -> 32 -> 16 -> 8 -> 4) is a "ResNet-10" cut to 64x64 inputs, and global average
pooling makes the score independent of where in the slice a lesion sits. By default it uses
no ImageNet weights: the scans are grey-scale 64x64 and outside pre-training would blur what
the experiments measure, the effect of pre-training on *synthetic* scans; where torchvision
and the internet are available, ``arch="resnet18-imagenet"`` starts from ImageNet instead.

The classifier outputs one logit per image, the score of the *positive* class (``lesion``
for the built-in set); :func:`predict` turns it into a probability.
:func:`~medgan_utils.downstream.fit.fit_classifier` trains it, and
:func:`~medgan_utils.stats.bootstrap_metrics` evaluates it: AUROC, accuracy, sensitivity and
specificity with percentile bootstrap intervals (over subjects when given).

Example:
    >>> model = LesionClassifier(ClassifierConfig(width=8))
    >>> model(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2])
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medgan_utils import registry
from medgan_utils.errors import DataError
from medgan_utils.settings import atomic_path, pick_precision

__all__ = [
    "ClassifierConfig",
    "LesionClassifier",
    "check_images",
    "predict",
    "save_classifier",
    "load_classifier",
]

ARCHS = ("resnet10", "resnet18-imagenet")
#: Shipped classifiers: name -> weights file under ``pretrained/`` (from the registry).
SHIPPED_CLASSIFIERS = {a.name: f"{a.folder}/{a.weights}" for a in registry.artefacts("classifier")}


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
    :data:`SHIPPED_CLASSIFIERS`) in eval mode, with its metadata.

    Raises:
        DataError: not a classifier checkpoint, weights that do not fit its config, or a
            shipped classifier whose file differs from the recorded SHA-256
            (:mod:`medgan_utils.registry`).
    """
    from safetensors import SafetensorError, safe_open

    if str(path) in SHIPPED_CLASSIFIERS:
        shipped = registry.artefact(str(path))
        path = shipped.path / shipped.weights
    registry.verify_file(path)  # shipped files only; hashed once per process
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
