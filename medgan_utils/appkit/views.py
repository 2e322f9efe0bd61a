"""The app's views beyond generation, as plain functions (the page lays them out).

- the model's metrics, each beside its real-vs-real floor (:func:`evaluate_model`);
- latent interpolation between two seeds (:func:`interpolation_png`);
- the memorization view: each sample beside its nearest training image
  (:func:`training_set`, :func:`nearest_training`, using :func:`memorization.memorization`);
- whether a view may show a model's training images at all (:func:`training_withheld`): for
  the built-in sets (template-derived, no patient's image), and for a served run trained on a
  data folder only when the operator sets ``$MEDGAN_APP_SHOW_TRAINING_IMAGES=1``: a folder
  may hold patients' images, which the memorization view and the Turing test would show to
  every visitor;
- a visual Turing test (:func:`turing_round`, :func:`turing_score`), the balanced round of
  :class:`~medgan_utils.evaluation.turing.TuringTest`.

They take the :class:`~medgan_utils.appkit.generation.LoadedModel` and PNG images of
:mod:`medgan_utils.appkit.generation`; nothing here imports Streamlit.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from medgan_utils.appkit.generation import LoadedModel, decode_pngs
from medgan_utils.appkit.request import MAX_SEED, InvalidRequest, check_integer
from medgan_utils.evaluation.turing import TuringScore, TuringTest
from medgan_utils.exports import png_bytes, synthetic_marks
from medgan_utils.hub.entries import class_options

if TYPE_CHECKING:
    from medgan_utils.data.dataset import MedicalImageDataset
    from medgan_utils.evaluation.memorization import MemorizationResult

__all__ = [
    "SHOW_TRAINING_ENV",
    "NearestView",
    "TuringItem",
    "training_set",
    "training_images_allowed",
    "training_withheld",
    "nearest_training",
    "interpolation_png",
    "evaluate_model",
    "turing_round",
    "turing_score",
]


SHOW_TRAINING_ENV = "MEDGAN_APP_SHOW_TRAINING_IMAGES"


def training_images_allowed() -> bool:
    """Whether the operator lets the app show the training images of runs trained on a data
    folder: ``$MEDGAN_APP_SHOW_TRAINING_IMAGES`` is ``1``, ``true`` or ``yes``. The page
    reads it once per script run."""
    return os.environ.get(SHOW_TRAINING_ENV, "").strip().lower() in {"1", "true", "yes"}


def training_withheld(model: LoadedModel, allow_folders: bool = False) -> str | None:
    """Why a view may not show ``model``'s training images, or ``None`` when it may.

    They may be shown when the model was trained on a built-in set (template-derived
    virtual subjects, no patient's image), or on a data folder that is on this server when
    ``allow_folders`` (the operator's :func:`training_images_allowed`).
    """
    from medgan_utils.data.load import BUILTIN_NAMES

    if not model.ours:
        return "The training images of medigan's models are not available to this app."
    data = str(model.meta.get("data", ""))
    if data in BUILTIN_NAMES:
        return None
    if not allow_folders:
        return (
            "This model was trained on a data folder, which may hold patients' images, so this "
            "app does not show its training images to visitors. The server's operator can "
            f"allow it with `{SHOW_TRAINING_ENV}=1`."
        )
    if not data or not Path(data).exists():
        return "This model's training images are not on this server."
    return None


def training_set(model: LoadedModel) -> MedicalImageDataset | None:
    """The images our model was trained on, rebuilt from its ``generator.json`` (the built-in
    sets are rebuilt from their seed; a data folder must still exist), or ``None``."""
    from medgan_utils.data.load import BUILTIN_NAMES, load_dataset

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
    flagged: list[bool]  # near-copies by the rule of memorization.memorization
    summary: str
    # the distances behind it, for evaluation.memorization.plot_closest_pairs
    result: MemorizationResult | None = field(default=None, compare=False, repr=False)


def nearest_training(
    pngs: Sequence[bytes], train: MedicalImageDataset, seed: int = 0
) -> NearestView:
    """Find each sample's nearest training image with
    :func:`medgan_utils.evaluation.memorization.memorization`
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
        result,
    )


def _memorization(generated: torch.Tensor, train: MedicalImageDataset, seed: int) -> Any:
    from medgan_utils.evaluation.memorization import memorization

    return memorization(generated, train.images, train_subjects=train.subjects, seed=seed)


@torch.no_grad()
def interpolation_png(
    model: LoadedModel, seed_a: int, seed_b: int, steps: int = 8, label: str | None = None
) -> bytes:
    """One row of images along the latent path from ``seed_a`` to ``seed_b`` (PNG, marked)."""
    from medgan_utils.gan.zoo import interpolate
    from medgan_utils.viz import make_grid

    G = model.generator
    if G is None:
        raise InvalidRequest("latent interpolation needs one of the project's own models")
    seed_a = check_integer(seed_a, "seed A", 0, MAX_SEED)
    seed_b = check_integer(seed_b, "seed B", 0, MAX_SEED)
    steps = check_integer(steps, "the number of steps", 2, 16)
    classes = class_options(model.card)
    if G.config.conditional and label not in classes:
        raise InvalidRequest(f"choose a class: {', '.join(classes)}")
    y = classes.index(label) if label is not None and label in classes else None
    images = interpolate(G, seed_a, seed_b, steps, label=y)
    marks = synthetic_marks(model.model_id, seeds=f"{seed_a}->{seed_b}")
    return png_bytes(make_grid(images, nrow=steps), marks)


def evaluate_model(
    model: LoadedModel, train: MedicalImageDataset, n: int = 256, seed: int = 0
) -> tuple[list[dict[str, Any]], list[str]]:
    """The model's metrics against its training set, each beside its real-vs-real floor.

    Uses :func:`medgan_utils.evaluation.evaluate.evaluate` with the domain encoder when it is
    shipped,
    else pixel features. Returns table rows and notes.
    """
    from medgan_utils.evaluation.evaluate import evaluate
    from medgan_utils.evaluation.features import DOMAIN_ENCODER_DIR

    if not model.ours:
        raise InvalidRequest("metrics are computed for the project's own models")
    shipped = any(DOMAIN_ENCODER_DIR.glob("*.safetensors")) if DOMAIN_ENCODER_DIR.exists() else 0
    extractor = "domain" if shipped else "pixels"
    with warnings.catch_warnings():  # evaluate's warnings are in report.notes too
        warnings.simplefilter("ignore", UserWarning)
        report = evaluate(train, model.generator, n=n, extractor=extractor, seed=seed)
    rows = report.to_rows(digits=4)
    notes = list(report.notes)
    if report.memorization is not None:
        notes.append(str(report.memorization))
    if not shipped:
        notes.append("pixel features: the domain encoder is not shipped in this install")
    return rows, notes


@dataclass(frozen=True)
class TuringItem:
    """An image of the app's Turing test: a
    :class:`~medgan_utils.evaluation.turing.TuringImage` as PNG bytes."""

    png: bytes  # no text chunks: the file must not give the answer away
    synthetic: bool
    origin: str = ""


def turing_round(
    model: LoadedModel, train: MedicalImageDataset, n: int = 10, seed: int = 0
) -> list[TuringItem]:
    """``n`` images for the visual Turing test: a balanced round of
    :meth:`~medgan_utils.evaluation.turing.TuringTest.draw`, ``n - n // 2`` real images of
    the training set and ``n // 2`` synthetic ones, in a seeded order."""
    G = model.generator
    if not model.ours or G is None or G.config.conditional:
        raise InvalidRequest("the visual Turing test uses an unconditional model of ours")
    n = check_integer(n, "the number of images", 2, 40)
    test = TuringTest.draw(train, G, n, seed, model.model_id, balanced=True)
    return [TuringItem(png_bytes(im.pixels), im.synthetic, im.origin) for im in test.images]


def turing_score(items: Sequence[TuringItem], guesses: Sequence[bool]) -> TuringScore:
    """Score guesses (``True``: "synthetic") against the truth
    (:class:`~medgan_utils.evaluation.turing.TuringScore`, with its Wilson interval)."""
    if len(guesses) != len(items):
        raise InvalidRequest(f"{len(guesses)} answers for {len(items)} images")
    return TuringScore.from_answers([it.synthetic for it in items], guesses)
