"""Feature extractors for the evaluation metrics: the domain encoder, Inception-v3, pixels.

Every extractor maps images ``(N, C, S, S)`` in ``[-1, 1]`` to features ``(N, D)`` float64:

- ``"domain"`` (the offline default): :class:`DomainEncoder`, a small CNN that the project
  trains on the built-in brain-MRI set (``scripts/train_domain_encoder.py``) and ships in
  ``medgan_utils/pretrained/domain_encoder`` with its model card. FID in this space is
  *domain FID*: useful to compare models on this data, **not comparable** with the
  Inception-FID numbers in papers.
- ``"anatomy"``: :class:`AnatomyFeatures`, the same network trained on the same set for
  axial level and lesion only (its site head is a linear probe fitted afterwards): no
  artefact head and no corrupted inputs (``scripts/train_anatomy_encoder.py``, shipped in
  ``medgan_utils/pretrained/anatomy_encoder``). The domain space is strict on texture by
  construction (its artefact head learnt to tell noise, blur and checkerboards from clean
  slices); this one was never asked to, so it says how far generated slices are from real
  ones in what they show. Why this network, and not the same one trained for site too nor a
  self-supervised one: see the script's docstring (all three were trained and measured).
- ``"inception"``: the standard FID network (Inception-v3 pool3, 2048-d) through
  torchmetrics and torch-fidelity, which download its weights on first use.
- ``"pixels"``: raw pixels downsampled to 16 x 16 (256-d), a baseline for tests and teaching.

Example:
    >>> feats = get_extractor("domain")(images)    # (N, 128)            # doctest: +SKIP
    >>> feats = get_extractor("anatomy")(images)   # (N, 128)            # doctest: +SKIP
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medgan_utils import registry
from medgan_utils.weights import load_state, read_json

__all__ = [
    "ANATOMY_ENCODER_DIR",
    "SPACE_DESCRIPTIONS",
    "AnatomyFeatures",
    "DOMAIN_ENCODER_DIR",
    "EXTRACTORS",
    "DomainEncoderConfig",
    "DomainEncoder",
    "FeatureExtractor",
    "DomainFeatures",
    "InceptionFeatures",
    "PixelFeatures",
    "check_images",
    "get_extractor",
    "load_anatomy_encoder",
    "load_domain_encoder",
    "load_encoder",
    "save_domain_encoder",
]

DOMAIN_ENCODER = "domain-encoder"  # its name in medgan_utils.registry
DOMAIN_ENCODER_DIR = registry.artefact(DOMAIN_ENCODER).path
ANATOMY_ENCODER = "anatomy-encoder"
ANATOMY_ENCODER_DIR = registry.artefact(ANATOMY_ENCODER).path
EXTRACTORS = ("domain", "anatomy", "inception", "pixels")
#: What each feature space sees, in a line (reports, model cards, ``medgan metrics``).
SPACE_DESCRIPTIONS = {
    "domain": (
        "the project's MRI encoder, trained also to tell which synthetic artefact (noise, "
        "blur, checkerboard, splice) a slice carries: strict on texture"
    ),
    "anatomy": (
        "the same network trained for axial level and lesion only, never shown an artefact: "
        "how far the slices are in what they show (blind to mild noise)"
    ),
    "inception": "Inception-v3 pool3 (ImageNet photographs), the network behind papers' FID",
}


def check_images(images: torch.Tensor, what: str = "images") -> torch.Tensor:
    """Check a batch of images and return it as float32 on the CPU.

    Raises:
        ValueError: not ``(N, C, S, S)``, empty, ``C`` not 1 or 3, NaN/inf values, or values
            far outside ``[-1, 1]`` (e.g. ``[0, 255]``); the message says how to fix it.
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{what} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[2] != images.shape[3]:
        raise ValueError(f"{what} must be (N, C, S, S) with C 1 or 3, got {tuple(images.shape)}")
    if len(images) == 0:
        raise ValueError(f"{what} is empty")
    x = images.detach().float().cpu()
    bad = ~torch.isfinite(x).flatten(1).all(1)
    if bad.any():
        first = int(bad.nonzero()[0])
        raise ValueError(
            f"{int(bad.sum())} of {len(x)} {what} contain NaN or inf (first: index {first}); "
            "drop them (x = x[torch.isfinite(x).flatten(1).all(1)]) or fix the generator"
        )
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.05 or hi > 1.05:
        hint = " (looks like [0, 255]: use x / 127.5 - 1)" if hi > 2 else ""
        raise ValueError(f"{what} must lie in [-1, 1], got [{lo:.3g}, {hi:.3g}]{hint}")
    return x


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """``(N, C, S, S) -> (N, C, size, size)``, anti-aliased bilinear (no-op at ``S == size``)."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class FeatureExtractor(ABC):
    """Maps images ``(N, C, S, S)`` in ``[-1, 1]`` to features ``(N, dim)`` float64.

    Attributes:
        name: short name used in reports (``"domain"``, ``"inception"``, ``"pixels-16"``).
        dim: feature dimension ``D``.
        label: prefix of the metric names, e.g. ``"domain"`` gives "domain FID".
    """

    name: str = ""
    dim: int = 0
    label: str = ""

    @abstractmethod
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """One checked batch ``(B, C, S, S)`` float32 in ``[-1, 1]`` -> ``(B, D)``."""

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        x = check_images(images)
        out = [self._features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return torch.cat(out).double()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"


class PixelFeatures(FeatureExtractor):
    """Raw pixels, downsampled to ``size x size`` (anti-aliased) and flattened: ``D = C*size²``.

    A baseline with no learned weights: fine for tests and for near-copy search, blind to
    anything a trained network would call "content".
    """

    def __init__(self, size: int = 16, channels: int = 1) -> None:
        self.size, self.channels = size, channels
        self.name, self.label, self.dim = f"pixels-{size}", "pixel", channels * size * size

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.channels:
            raise ValueError(
                f"{self.name} expects {self.channels}-channel images, got {x.shape[1]}"
            )
        return _resize(x, self.size).flatten(1)


# --------------------------------------------------------------------------- domain encoder


@dataclass(frozen=True)
class DomainEncoderConfig:
    """Shape of the domain encoder and of its training targets.

    Example:
        >>> DomainEncoderConfig().feature_dim
        128
    """

    image_size: int = 64  # inputs of other sizes are resized to this
    widths: tuple[int, ...] = (16, 32, 64, 128)  # stem, then one stride-2 stage per width
    level_center: float = 84.5  # axial level (mm) mapped to 0 by the regression head
    level_scale: float = 20.0  # ... and level_center + level_scale to 1
    n_corruptions: int = 5  # classes of the artefact head (0 = clean); 0: no artefact head

    @property
    def feature_dim(self) -> int:
        return self.widths[-1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DomainEncoderConfig:
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        return cls(**d)


def _conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class DomainEncoder(nn.Module):
    """A small multi-task CNN whose pooled last layer is a feature space ("domain", "anatomy").

    Heads (linear, from the features): axial level (regression, normalised), lesion vs no
    lesion (logit), site B vs A (logit) and, where ``config.n_corruptions > 0``, artefact
    class (clean, noise, blur, checkerboard, splice; logits). The domain encoder has all
    four, the anatomy encoder no artefact head. See their ``MODEL_CARD.md`` files in
    ``medgan_utils/pretrained``.

    Example:
        >>> DomainEncoder(DomainEncoderConfig()).features(torch.zeros(2, 1, 64, 64)).shape
        torch.Size([2, 128])
    """

    def __init__(self, config: DomainEncoderConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        layers = _conv(1, w[0])  # (N, 1, 64, 64) -> (N, w0, 64, 64)
        for c_in, c_out in zip(w[:-1], w[1:], strict=True):
            # (N, c_in, s, s) -> (N, c_out, s/2, s/2): 64 -> 32 -> 16 -> 8 for the default
            layers += _conv(c_in, c_out, stride=2) + _conv(c_out, c_out)
        self.body = nn.Sequential(*layers)
        d = config.feature_dim
        self.level = nn.Linear(d, 1)
        self.lesion = nn.Linear(d, 1)
        self.site = nn.Linear(d, 1)
        self.corruption = nn.Linear(d, config.n_corruptions) if config.n_corruptions else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, S, S)`` in ``[-1, 1]`` -> ``(N, feature_dim)`` (global average pool, >= 0)."""
        return self.body(_resize(x, self.config.image_size)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """All heads: ``level``, ``lesion``, ``site`` ``(N,)`` and, with an artefact head,
        ``corruption`` ``(N, K)``."""
        f = self.features(x)
        out = {
            "level": self.level(f)[:, 0],
            "lesion": self.lesion(f)[:, 0],
            "site": self.site(f)[:, 0],
        }
        if self.corruption is not None:
            out["corruption"] = self.corruption(f)
        return out


def save_domain_encoder(
    model: DomainEncoder, folder: str | Path, info: dict[str, Any] | None = None
) -> Path:
    """Write ``encoder.safetensors`` and ``encoder.json`` (config + ``info``) atomically (any
    :class:`DomainEncoder`: the domain or the anatomy encoder)."""
    from safetensors.torch import save_file

    from medgan_utils.settings import atomic_path

    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / "encoder.safetensors") as tmp:
        save_file(state, str(tmp))
    with atomic_path(folder / "encoder.json") as tmp:
        meta = {"config": model.config.to_dict(), **(info or {})}
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    return folder


@lru_cache(maxsize=4)
def _load_cached(folder: str) -> DomainEncoder:
    config, _ = read_json(
        Path(folder) / "encoder.json",
        lambda d: DomainEncoderConfig.from_dict(d["config"]),
        "domain-encoder config",
    )
    model = load_state(
        DomainEncoder(config), Path(folder) / "encoder.safetensors", "encoder weights"
    )
    return model.eval()


def load_encoder(name: str, folder: str | Path | None = None) -> DomainEncoder:
    """Load a shipped encoder (``"domain-encoder"``, ``"anatomy-encoder"``) or the one in
    ``folder`` in eval mode; cached per folder.

    Raises:
        DataError: an unknown name, missing or unreadable ``encoder.json`` /
            ``encoder.safetensors``, or a shipped encoder whose files differ from the
            recorded SHA-256 (:mod:`medgan_utils.registry`).
    """
    path = Path(folder or registry.artefact(name).path).resolve()
    for file in ("encoder.json", "encoder.safetensors"):
        registry.verify_file(path / file)  # shipped files only; hashed once per process
    return _load_cached(str(path))


def load_domain_encoder(folder: str | Path | None = None) -> DomainEncoder:
    """Load the shipped (or another) domain encoder in eval mode; see :func:`load_encoder`."""
    return load_encoder(DOMAIN_ENCODER, folder)


def load_anatomy_encoder(folder: str | Path | None = None) -> DomainEncoder:
    """Load the shipped (or another) anatomy encoder in eval mode; see :func:`load_encoder`."""
    return load_encoder(ANATOMY_ENCODER, folder)


class DomainFeatures(FeatureExtractor):
    """Pooled features of the :class:`DomainEncoder` (128-d for the shipped one).

    Grey-scale only; any image size (resized to 64 x 64). Deterministic: eval mode, no noise.
    """

    artefact = DOMAIN_ENCODER  # the registry's name of the shipped weights
    space = "domain"

    def __init__(self, folder: str | Path | None = None) -> None:
        self.model = load_encoder(self.artefact, folder)
        self.name, self.label, self.dim = self.space, self.space, self.model.config.feature_dim

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 1:
            raise ValueError(
                f"the {self.space} encoder reads grey-scale images (C = 1), got C = "
                f"{x.shape[1]}; use extractor='inception' for RGB images"
            )
        return self.model.features(x)


class AnatomyFeatures(DomainFeatures):
    """Pooled features of the anatomy encoder: the :class:`DomainEncoder` network trained
    for level and lesion only, on clean slices (128-d; its site head is a linear probe);
    never taught to spot GAN artefacts. Grey-scale only; any image size (resized to 64 x 64).
    See ``pretrained/anatomy_encoder/MODEL_CARD.md``."""

    artefact = ANATOMY_ENCODER
    space = "anatomy"


# --------------------------------------------------------------------------- Inception-v3

INCEPTION_HELP = (
    "Inception-v3 FID needs the torch-fidelity package and its network weights "
    "(pt_inception-2015-12-05, about 100 MB, downloaded from GitHub on first use). On a "
    "machine with internet (e.g. Colab): pip install torch-fidelity. Offline: download the "
    "weights elsewhere and pass InceptionFeatures(weights_path=...), or use "
    "extractor='domain' (domain FID, not comparable with papers' FID)."
)


class InceptionFeatures(FeatureExtractor):
    """Inception-v3 pool3 features (2048-d), the network behind published FID numbers.

    Loaded through torchmetrics' ``NoTrainInceptionV3`` (torch-fidelity's port of the
    TensorFlow FID graph) rather than re-implemented, so the numbers match the reference.
    Grey-scale images are repeated to three channels; images are quantised to uint8.

    Args:
        weights_path: a local copy of ``pt_inception-2015-12-05-6726825d.pth``; ``None``
            downloads it (needs internet).

    Raises:
        RuntimeError: torch-fidelity is missing or the weights cannot be loaded; the
            message says what to install or download.
    """

    def __init__(self, weights_path: str | Path | None = None) -> None:
        try:
            from torchmetrics.image import fid as tm_fid
        except ImportError as err:
            raise RuntimeError(f"torchmetrics is not installed. {INCEPTION_HELP}") from err
        try:
            self.model = tm_fid.NoTrainInceptionV3(
                name="inception-v3-compat",
                features_list=["2048"],
                feature_extractor_weights_path=str(weights_path) if weights_path else None,
            )
        except ModuleNotFoundError as err:
            raise RuntimeError(f"torch-fidelity is not installed. {INCEPTION_HELP}") from err
        except (OSError, RuntimeError, ValueError) as err:  # URLError is an OSError
            raise RuntimeError(
                f"could not load the Inception-v3 weights ({type(err).__name__}: {err}). "
                f"{INCEPTION_HELP}"
            ) from err
        self.name, self.label, self.dim = "inception", "", 2048

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        pixels = torch.round((x.clamp(-1, 1) + 1) * 127.5).to(torch.uint8)
        return self.model(pixels).reshape(len(x), -1)


def get_extractor(extractor: str | FeatureExtractor = "domain") -> FeatureExtractor:
    """Return an extractor by name (``"domain"``, ``"anatomy"``, ``"inception"``,
    ``"pixels"``, ``"pixels-32"``) or pass an instance through."""
    if isinstance(extractor, FeatureExtractor):
        return extractor
    name = str(extractor)
    if name == "domain":
        return DomainFeatures()
    if name == "anatomy":
        return AnatomyFeatures()
    if name == "inception":
        return InceptionFeatures()
    if name == "pixels" or name.startswith("pixels-"):
        size = name.partition("-")[2] or "16"
        if not size.isdigit() or int(size) < 1:
            raise ValueError(f"pixel extractor size must be a positive integer: {name!r}")
        return PixelFeatures(int(size))
    raise ValueError(f"unknown extractor {name!r}; use one of {', '.join(EXTRACTORS)}")
