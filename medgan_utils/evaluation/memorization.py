"""Memorization: does a generator copy its training images?

In medicine a generator that reproduces a training image leaks that patient's data. For
each generated image we measure the distance to its nearest training image and compare it
with how close *real* images the model never saw come to the same training set: a
generated image closer than almost all of those (the ``quantile``) is flagged as a
near-copy. A model that copies nothing is flagged at about that rate by chance, so the
verdict compares the number flagged with the most that chance gives (:data:`FALSE_ALARM`):
one rule, used by chapter 4, the model cards and the release gate
(:func:`medgan_utils.ethics.privacy.privacy_gate`). :func:`plot_closest_pairs` shows the
closest pairs side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.evaluation.features import FeatureExtractor, get_extractor

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FALSE_ALARM",
    "MemorizationResult",
    "chance_bound",
    "memorization",
    "plot_closest_pairs",
]

#: How often a generator that copies nothing is wrongly said to flag more than chance.
FALSE_ALARM = 0.001


def chance_bound(n: int, rate: float, false_alarm: float = FALSE_ALARM) -> int:
    """The most near-copies among ``n`` samples that chance alone explains: the smallest
    ``k`` with P(Binomial(n, rate) > k) <= ``false_alarm``."""
    from scipy.stats import binom

    return int(binom.ppf(1 - false_alarm, n, rate)) if n else 0


def _pairwise(x: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Euclidean distances ``(N, M)``, computed in row chunks to bound peak memory."""
    return torch.cat([torch.cdist(x[i : i + chunk], y) for i in range(0, len(x), chunk)])


@dataclass(frozen=True)
class MemorizationResult:
    """Nearest-training-image distances of generated images, calibrated on real images.

    Rule: a generated image is a *near-copy* when its distance to the nearest training
    image is at most the ``quantile`` (default 1st percentile) of the same distance for
    real images that the model never saw. A model that copies nothing is flagged at about
    that rate by chance; the model *copies more than chance* (:attr:`excess`) when more
    than :attr:`chance_bound` of its samples are flagged, which a model that copies nothing
    does with probability at most :data:`FALSE_ALARM`.

    Attributes:
        distance: ``(G,)`` each generated image's distance to its nearest training image.
        nearest: ``(G,)`` index of that training image.
        reference: ``(H,)`` the same distance for held-out real images (the calibration).
        quantile: share of held-out images below the threshold (the chance flag rate).
        calibration: how ``reference`` was obtained.
        space: the feature space of the distances (e.g. ``"pixels-32"``).
    """

    distance: np.ndarray
    nearest: np.ndarray
    reference: np.ndarray
    quantile: float
    calibration: str
    space: str

    @property
    def threshold(self) -> float:
        return float(np.quantile(self.reference, self.quantile))

    @property
    def ratio(self) -> np.ndarray:
        """``(G,)`` distance over the held-out images' median distance (< 1: closer than real)."""
        return self.distance / max(float(np.median(self.reference)), 1e-12)

    @property
    def flagged(self) -> np.ndarray:
        """``(G,)`` bool: near-copies by the rule above."""
        return self.distance <= self.threshold

    @property
    def share_flagged(self) -> float:
        return float(self.flagged.mean())

    @property
    def chance_bound(self) -> int:
        """The most flags chance explains for this many samples (:func:`chance_bound`)."""
        return chance_bound(len(self.distance), self.quantile)

    @property
    def excess(self) -> bool:
        """More near-copies than chance explains: look at the flagged images."""
        return int(self.flagged.sum()) > self.chance_bound

    def summary(self) -> dict[str, Any]:
        """JSON-able numbers: counts, threshold, ratios and the rule in words."""
        return {
            "n": len(self.distance),
            "n_flagged": int(self.flagged.sum()),
            "share_flagged": self.share_flagged,
            "chance_share": self.quantile,
            "chance_bound": self.chance_bound,
            "false_alarm": FALSE_ALARM,
            "excess": self.excess,
            "threshold": self.threshold,
            "median_ratio": float(np.median(self.ratio)),
            "min_ratio": float(self.ratio.min()),
            "space": self.space,
            "calibration": self.calibration,
            "rule": f"nearest-training distance <= {self.quantile:.0%} quantile of held-out "
            "real images' nearest-training distances; more than chance if over "
            f"{self.chance_bound} of {len(self.distance)} (false alarm {FALSE_ALARM:.1%})",
        }

    def __str__(self) -> str:
        verdict = "MORE than chance" if self.excess else "within chance"
        return (
            f"near-copies {self.share_flagged:.1%} of {len(self.distance)} "
            f"(expected by chance {self.quantile:.1%}, at most {self.chance_bound}: {verdict}); "
            f"median nearest-training distance ratio {np.median(self.ratio):.2f} "
            f"(real held-out 1.00, {self.space})"
        )


def _nearest(query: torch.Tensor, ref: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Distance to and index of each query row's nearest ``ref`` row."""
    d, i = _pairwise(query, ref).min(1)
    return d.numpy(), i.numpy()


def memorization(
    generated: torch.Tensor,
    train: torch.Tensor,
    heldout: torch.Tensor | None = None,
    *,
    train_subjects: list[str] | None = None,
    extractor: str | FeatureExtractor = "pixels-32",
    quantile: float = 0.01,
    max_reference: int = 1000,
    seed: int = 0,
) -> MemorizationResult:
    """Find generated images that are closer to a training image than real images come.

    Args:
        generated: ``(G, C, S, S)`` in ``[-1, 1]``.
        train: ``(T, C, S, S)`` the generator's training images.
        heldout: ``(H, C, S, S)`` real images the generator never saw (calibration). Without
            them, up to ``max_reference`` training images are held out one *subject* at a
            time (``train_subjects``, one id per image) or, lacking ids, one image at a time
            (then neighbouring slices of one subject make the threshold strict). With few
            training subjects (< 20) this calibration flags more than ``quantile`` of new
            real images: pass ``heldout`` there.
        extractor: distance space; default pixels at 32 x 32 (averaging 2 x 2 pixels halves
            the scanner noise, which otherwise dominates pixel distances of real images).
        quantile: chance flag rate, see :class:`MemorizationResult`.

    Returns:
        A :class:`MemorizationResult`.
    """
    ext = get_extractor(extractor)
    g, t = ext(generated).float(), ext(train).float()
    distance, nearest = _nearest(g, t)
    if heldout is not None:
        reference, calibration = _nearest(ext(heldout).float(), t)[0], "held-out real images"
    else:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(t), min(max_reference, len(t)), replace=False))
        d = _pairwise(t[pick], t)
        if train_subjects is not None:
            subjects = np.asarray(train_subjects)
            same = torch.from_numpy(subjects[pick][:, None] == subjects[None, :])
            calibration = "training images, leave one subject out"
        else:
            same = torch.zeros_like(d, dtype=torch.bool)
            same[torch.arange(len(pick)), torch.from_numpy(pick)] = True
            calibration = "training images, leave one image out (no subject ids)"
        reference = d.masked_fill(same, float("inf")).min(1).values.numpy()
        reference = reference[np.isfinite(reference)]
        if len(reference) == 0:
            raise ValueError("memorization needs a held-out set or training images of 2+ subjects")
    return MemorizationResult(distance, nearest, reference, quantile, calibration, ext.name)


def plot_closest_pairs(
    result: MemorizationResult, generated: torch.Tensor, train: torch.Tensor, k: int = 8
) -> Figure:
    """The ``k`` generated images closest to a training image (top) above that image.

    Titles give the distance ratio; near-copies are marked in red.
    """
    import matplotlib.pyplot as plt

    order = np.argsort(result.ratio)[:k]
    fig, axes = plt.subplots(2, len(order), figsize=(1.4 * len(order), 3.3), squeeze=False)
    for col, i in enumerate(order):
        j = int(result.nearest[i])
        for row, (img, label) in enumerate(((generated[i], f"gen {i}"), (train[j], f"train {j}"))):
            ax = axes[row, col]
            ax.imshow(img[0].detach().cpu().numpy(), cmap="gray", vmin=-1, vmax=1)
            ax.set_axis_off()
            ax.set_title(label, fontsize=7)
        copy = bool(result.flagged[i])
        axes[0, col].set_title(
            f"gen {i}\nratio {result.ratio[i]:.2f}" + (" COPY" if copy else ""),
            fontsize=7,
            color="red" if copy else "black",
        )
    fig.suptitle(
        f"closest generated/training pairs ({result.space}): {result.share_flagged:.1%} flagged"
    )
    fig.tight_layout()
    return fig
