"""The app's views beyond generation, as plain functions (the page lays them out).

- the model's metrics, each beside its real-vs-real floor (:func:`evaluate_model`);
- latent interpolation between two seeds (:func:`interpolation_png`);
- the memorization view: each sample beside its nearest training image
  (:func:`training_set`, :func:`nearest_training`, using :func:`metrics.memorization`);
- a visual Turing test (:func:`turing_round`, :func:`turing_score`).

They take the :class:`~medgan_utils.appkit.core.LoadedModel` and images of
:mod:`medgan_utils.appkit.core`; nothing here imports Streamlit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.appkit.core import (
    MAX_SEED,
    InvalidRequest,
    LoadedModel,
    check_integer,
    class_options,
    decode_pngs,
    png_bytes,
)

if TYPE_CHECKING:
    from medgan_utils.data.dataset import MedicalImageDataset
    from medgan_utils.evaluation.metrics import MemorizationResult

__all__ = [
    "NearestView",
    "TuringItem",
    "TuringScore",
    "training_set",
    "nearest_training",
    "interpolation_png",
    "evaluate_model",
    "turing_items",
    "turing_round",
    "turing_score",
]


def training_set(model: LoadedModel) -> MedicalImageDataset | None:
    """The images our model was trained on, rebuilt from its ``generator.json`` (the built-in
    sets are rebuilt from their seed; a data folder must still exist), or ``None``."""
    from medgan_utils.data.dataset import BUILTIN_NAMES, load_dataset

    if not model.ours:
        return None
    data = str(model.meta.get("data", ""))
    size = int(model.meta.get("model_config", {}).get("image_size", 64))
    options = dict(model.meta.get("data_options") or {})
    if data in BUILTIN_NAMES:
        return load_dataset(data, size, **options)
    if data and Path(data).exists():
        return load_dataset(data, size, on_error="skip", **options)
    return None


@dataclass(frozen=True)
class NearestView:
    """Each sample beside its nearest training image (the memorization view)."""

    samples: list[bytes]
    nearest: list[bytes]  # the nearest training image of each sample
    ratio: list[float]  # distance / median distance of held-out real images (< 1: closer)
    flagged: list[bool]  # near-copies by the rule of metrics.memorization
    summary: str


def nearest_training(
    pngs: Sequence[bytes], train: MedicalImageDataset, seed: int = 0
) -> NearestView:
    """Find each sample's nearest training image with
    :func:`medgan_utils.evaluation.metrics.memorization`
    (distances on 32 x 32 pixels, calibrated on real images left out one subject at a time)."""
    from medgan_utils.viz import to_uint8

    generated = decode_pngs(pngs)
    result: MemorizationResult = _memorization(generated, train, seed)
    nearest = [png_bytes(to_uint8(train.images[int(j)])) for j in result.nearest]
    return NearestView(
        list(pngs),
        nearest,
        [float(r) for r in result.ratio],
        [bool(f) for f in result.flagged],
        str(result),
    )


def _memorization(generated: torch.Tensor, train: MedicalImageDataset, seed: int) -> Any:
    from medgan_utils.evaluation.metrics import memorization

    return memorization(generated, train.images, train_subjects=train.subjects, seed=seed)


@torch.no_grad()
def interpolation_png(
    model: LoadedModel, seed_a: int, seed_b: int, steps: int = 8, label: str | None = None
) -> bytes:
    """One row of images along the latent path from ``seed_a`` to ``seed_b`` (PNG, marked)."""
    from medgan_utils.gan.zoo import interpolate
    from medgan_utils.viz import make_grid

    if not model.ours:
        raise InvalidRequest("latent interpolation needs one of the project's own models")
    seed_a = check_integer(seed_a, "seed A", 0, MAX_SEED)
    seed_b = check_integer(seed_b, "seed B", 0, MAX_SEED)
    steps = check_integer(steps, "the number of steps", 2, 16)
    classes = class_options(model.card)
    if model.generator.config.conditional and label not in classes:
        raise InvalidRequest(f"choose a class: {', '.join(classes)}")
    y = classes.index(label) if label in classes else None
    images = interpolate(model.generator, seed_a, seed_b, steps, label=y)
    marks = {"synthetic": "true", "model": model.model_id, "seeds": f"{seed_a}->{seed_b}"}
    return png_bytes(make_grid(images, nrow=steps), marks)


def evaluate_model(
    model: LoadedModel, train: MedicalImageDataset, n: int = 256, seed: int = 0
) -> tuple[list[dict[str, Any]], list[str]]:
    """The model's metrics against its training set, each beside its real-vs-real floor.

    Uses :func:`medgan_utils.evaluation.metrics.evaluate` with the domain encoder when it is
    shipped,
    else pixel features. Returns table rows and notes.
    """
    from medgan_utils.evaluation.features import DOMAIN_ENCODER_DIR
    from medgan_utils.evaluation.metrics import evaluate

    if not model.ours:
        raise InvalidRequest("metrics are computed for the project's own models")
    shipped = any(DOMAIN_ENCODER_DIR.glob("*.safetensors")) if DOMAIN_ENCODER_DIR.exists() else 0
    extractor = "domain" if shipped else "pixels"
    with warnings.catch_warnings():  # evaluate's warnings are in report.notes too
        warnings.simplefilter("ignore", UserWarning)
        report = evaluate(train, model.generator, n=n, extractor=extractor, seed=seed)
    rows = []
    for s in report.scores.values():
        if s.higher_is_better:
            better = "higher"
        elif "within" in str(getattr(s, "floor_label", "")):  # diversity: like the real set
            better = "near the floor"
        else:
            better = "lower"
        rows.append(
            {
                "metric": s.name,
                "model": round(float(s.value), 4),
                "floor (real vs real)": round(float(s.floor), 4),
                "n": int(s.n),
                "better": better,
            }
        )
    notes = list(report.notes)
    if report.memorization is not None:
        notes.append(str(report.memorization))
    if not shipped:
        notes.append("pixel features: the domain encoder is not shipped in this install")
    return rows, notes


@dataclass(frozen=True)
class TuringItem:
    png: bytes  # no text chunks: the file must not give the answer away
    synthetic: bool


def turing_items(real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> list[TuringItem]:
    """Real and synthetic images ``(N, C, S, S)`` in ``[-1, 1]``, shuffled with ``seed``."""
    from medgan_utils.viz import to_uint8

    items = [TuringItem(png_bytes(p), False) for p in to_uint8(real)]
    items += [TuringItem(png_bytes(p), True) for p in to_uint8(fake)]
    order = np.random.default_rng(seed).permutation(len(items))
    return [items[i] for i in order]


def turing_round(
    model: LoadedModel, train: MedicalImageDataset, n: int = 10, seed: int = 0
) -> list[TuringItem]:
    """``n`` images for the visual Turing test, half real (training set) and half synthetic."""
    from medgan_utils.gan.zoo import generate

    if not model.ours or model.generator.config.conditional:
        raise InvalidRequest("the visual Turing test uses an unconditional model of ours")
    n = check_integer(n, "the number of images", 2, 40)
    rng = np.random.default_rng(seed)
    real = train.images[rng.choice(len(train), size=n - n // 2, replace=False)]
    fake = generate(model.generator, n // 2, seed=seed)
    return turing_items(real, fake, seed)


@dataclass(frozen=True)
class TuringScore:
    correct: int
    n: int
    synthetic_caught: int  # synthetic images called synthetic
    n_synthetic: int
    real_kept: int  # real images called real
    n_real: int

    @classmethod
    def from_answers(cls, truth: Sequence[bool], answers: Sequence[bool]) -> TuringScore:
        """Counts from each image's truth and answer (``True`` = synthetic)."""
        pairs = list(zip(truth, answers, strict=True))
        return cls(
            correct=sum(t == a for t, a in pairs),
            n=len(pairs),
            synthetic_caught=sum(t and a for t, a in pairs),
            n_synthetic=sum(truth),
            real_kept=sum(not t and not a for t, a in pairs),
            n_real=len(truth) - sum(truth),
        )

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def text(self) -> str:
        return (
            f"{self.correct} of {self.n} right ({self.accuracy:.0%}): you spotted "
            f"{self.synthetic_caught} of {self.n_synthetic} synthetic images and recognised "
            f"{self.real_kept} of {self.n_real} real ones. Guessing scores 50% on average, so a "
            "score near 50% means the synthetic images fooled you. Passing this test does not "
            "make images clinically realistic: experts, metrics and downstream tasks decide that."
        )


def turing_score(items: Sequence[TuringItem], guesses: Sequence[bool]) -> TuringScore:
    """Score guesses (``True``: "synthetic") against the truth."""
    if len(guesses) != len(items):
        raise InvalidRequest(f"{len(guesses)} answers for {len(items)} images")
    return TuringScore.from_answers([it.synthetic for it in items], guesses)
