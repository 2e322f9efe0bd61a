"""A release gate: may a generator's samples be published?

:func:`privacy_gate` applies the memorization rule of chapter 4 and the model cards
(:func:`~medgan_utils.evaluation.memorization.memorization`): a sample closer to its nearest
training image than 99 % of held-out real images come is a near-copy, and the generator
passes only when it has no more near-copies than chance explains
(:attr:`~medgan_utils.evaluation.memorization.MemorizationResult.chance_bound`; a generator
that copies nothing is blocked with probability at most
:data:`~medgan_utils.evaluation.memorization.FALSE_ALARM`).

Example:
    >>> gate = privacy_gate("brain-mri-dcgan-64", train_set, holdout)  # doctest: +SKIP
    >>> print(gate.reason)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.ethics._result import Result, jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from medgan_utils.evaluation.memorization import MemorizationResult

__all__ = ["PrivacyGate", "privacy_gate"]


def _images(source: MedicalImageDataset | torch.Tensor) -> torch.Tensor:
    return source.images if isinstance(source, MedicalImageDataset) else source


def _samples(source: Any, n: int, seed: int) -> tuple[torch.Tensor, str]:
    """``(n, C, S, S)`` images from images, a model name/folder, a Generator or ``f(n)``."""
    from medgan_utils.gan.models import Generator
    from medgan_utils.gan.zoo import generate, load_generator

    if isinstance(source, torch.Tensor | MedicalImageDataset):
        return _images(source)[:n], "images"
    name = source if isinstance(source, str) else getattr(source, "__name__", type(source).__name__)
    if isinstance(source, str):
        source = load_generator(source)[0]
    if isinstance(source, Generator):
        return generate(source, n, seed=seed), name
    if not callable(source):
        raise TypeError(f"cannot draw samples from a {name}")
    with torch.no_grad():
        return torch.as_tensor(source(n))[:n].float(), name


@dataclass(frozen=True)
class PrivacyGate(Result):
    """Whether generated samples may be published: ``publishable`` when none is a near-copy
    (nearest-training distance at most ``threshold``). ``pairs``: the closest ``(sample,
    training image, distance)``, closest first; ``result``: the memorization check."""

    publishable: bool
    reason: str
    threshold: float
    n_flagged: int
    rule: str
    pairs: tuple[tuple[int, int, float], ...]
    result: MemorizationResult = field(repr=False)
    samples: torch.Tensor = field(repr=False)
    train: torch.Tensor = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        keep = ("publishable", "reason", "threshold", "n_flagged", "rule", "pairs")
        return jsonable({k: getattr(self, k) for k in keep})

    def to_text(self) -> str:
        pairs = ", ".join(f"sample {i} ~ train {j} ({d:.3g})" for i, j, d in self.pairs[:3])
        return f"{self.reason}\nrule: {self.rule}\nclosest pairs: {pairs}"

    def plot(self, k: int = 8) -> Figure:
        """The ``k`` closest sample/training pairs, near-copies marked in red."""
        from medgan_utils.evaluation.memorization import plot_closest_pairs

        return plot_closest_pairs(self.result, self.samples, self.train, k)


def privacy_gate(
    generator_or_images: Any,
    real_train: MedicalImageDataset | torch.Tensor,
    real_holdout: MedicalImageDataset | torch.Tensor | None,
    threshold: float | None = None,
    n: int = 256,
    *,
    quantile: float = 0.01,
    seed: int = 0,
) -> PrivacyGate:
    """Pass only when the samples hold no more near-copies of training images than chance.

    A near-copy's distance to its nearest training image (pixels at 32 x 32, see
    :func:`~medgan_utils.evaluation.memorization.memorization`) is at most ``threshold``: by
    default the ``quantile`` (1 %) of that distance for held-out real images. A generator
    that copies nothing has about ``quantile`` of its samples flagged; the gate blocks when
    more than the chance bound are (a false block has probability at most
    :data:`~medgan_utils.evaluation.memorization.FALSE_ALARM`). A given ``threshold`` is a
    strict rule instead: any sample at or below it blocks.

    Args:
        generator_or_images: images ``(G, C, S, S)`` in ``[-1, 1]``, a model name or folder,
            a :class:`~medgan_utils.gan.models.Generator`, or ``f(n) -> (n, C, S, S)``.
        real_train: the generator's training images (a dataset or ``(T, C, S, S)``).
        real_holdout: real images of other subjects ``(H, C, S, S)``; ``None`` calibrates on
            the training images, one subject left out at a time.
        n: samples drawn from a generator.
    """
    from medgan_utils.evaluation.memorization import memorization

    samples, name = _samples(generator_or_images, n, seed)
    train = _images(real_train)
    subjects = real_train.subjects if isinstance(real_train, MedicalImageDataset) else None
    held = None if real_holdout is None else _images(real_holdout)
    result = memorization(samples, train, held, train_subjects=subjects, quantile=quantile)
    which = "smallest" if quantile == 0 else f"{quantile:.1%} quantile of the"
    rule = f"the {which} distance of {len(result.reference)} {result.calibration}"
    if threshold is not None:  # the plot's marks follow the quantile that gives it
        ref = np.sort(result.reference)
        q = float(np.interp(threshold, ref, np.linspace(0, 1, len(ref))))
        result, rule = replace(result, quantile=q), "given"
    t = result.threshold if threshold is None else float(threshold)
    count = int((result.distance <= t).sum())
    allowed = result.chance_bound if threshold is None else 0
    reason = (
        f"not publishable: {count} of {len(samples)} samples are near-copies of training "
        f"images at threshold {t:.4g} (chance explains at most {allowed})"
        if count > allowed
        else f"publishable: {count} near-copies of {len(samples)} at threshold {t:.4g}, "
        f"within what chance explains (at most {allowed})"
    )
    order = np.argsort(result.distance)[:8]
    return PrivacyGate(
        publishable=count <= allowed,
        reason=reason,
        threshold=t,
        n_flagged=count,
        rule=f"{name}: nearest-training distance ({result.space}) <= {t:.4g}, {rule}",
        pairs=tuple((int(i), int(result.nearest[i]), float(result.distance[i])) for i in order),
        result=result,
        samples=samples,
        train=train,
    )
