"""Labelled images for the classifier, and the subject-aware splits and samples of them.

- :class:`LabelledImages`: images ``(N, 1, S, S)``, binary targets ``(N,)`` and subjects
  ``(N,)``, the form every strategy trains on; :func:`as_labelled` turns a labelled dataset
  (or a ``Subset`` of one) into it and checks the labels.
- :func:`split_real`: training pool, validation and test splits, no subject in two of them
  (:func:`~medgan_utils.data.dataset.subject_split`).
- :func:`sample_real`: ``N`` images of the pool, class-stratified and subject-aware;
  :func:`balanced_sample`: ``n`` images, half of each class.

Example:
    >>> data = as_labelled(load_dataset("builtin-labelled"))        # doctest: +SKIP
    >>> pool, val, test = split_real(data, (0.6, 0.2, 0.2), seed=0)  # doctest: +SKIP
    >>> train = sample_real(pool, 50, seed=0)                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from medgan_utils.data.dataset import MedicalImageDataset, subject_split
from medgan_utils.errors import DataError

__all__ = [
    "LabelledImages",
    "as_labelled",
    "split_real",
    "sample_real",
    "balanced_sample",
]


@dataclass(frozen=True)
class LabelledImages:
    """Images with binary targets and subjects, the form every strategy trains on.

    Attributes:
        images: ``(N, 1, S, S)`` float32 in ``[-1, 1]``.
        targets: ``(N,)`` int64, 1 for the positive class (lesion), 0 otherwise.
        subjects: ``(N,)`` subject ids.
    """

    images: torch.Tensor
    targets: torch.Tensor
    subjects: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, idx: np.ndarray | Sequence[int]) -> LabelledImages:
        idx = np.asarray(idx, dtype=np.int64)
        return LabelledImages(self.images[idx], self.targets[idx], self.subjects[idx])

    def pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images, self.targets

    @staticmethod
    def concat(a: LabelledImages, b: LabelledImages) -> LabelledImages:
        return LabelledImages(
            torch.cat([a.images, b.images]),
            torch.cat([a.targets, b.targets]),
            np.concatenate([a.subjects, b.subjects]),
        )


def _positive(classes: Sequence[str], positive_class: str | None) -> str:
    if positive_class is not None and positive_class not in classes:
        raise DataError("<classes>", f"positive class {positive_class!r} not in {list(classes)}")
    return positive_class or ("lesion" if "lesion" in classes else classes[0])


def as_labelled(
    dataset: MedicalImageDataset | Subset | LabelledImages,
    positive_class: str | None = None,
    name: str | Path = "dataset",
) -> LabelledImages:
    """Binary targets of a labelled dataset (or a ``Subset`` of one); checks the labels.

    Raises:
        DataError: empty, unlabelled, or a single class.
    """
    if isinstance(dataset, LabelledImages):
        out = dataset
    else:
        base: Any = dataset
        idx: np.ndarray | None = None
        if isinstance(dataset, Subset):
            base, idx = dataset.dataset, np.asarray(dataset.indices, dtype=np.int64)
        if not isinstance(base, MedicalImageDataset):
            raise TypeError(f"expected a MedicalImageDataset, got {type(base).__name__}")
        if len(dataset) == 0:
            raise DataError(name, "is empty")
        labels = base.labels if idx is None else base.labels[idx]
        if not base.is_labelled or int(labels.min()) < 0:
            raise DataError(name, "has no class labels (load a labelled set, e.g. class folders)")
        positive = base.classes.index(_positive(base.classes, positive_class))
        images = base.images if idx is None else base.images[idx]
        subjects = np.asarray(base.subjects)[idx if idx is not None else slice(None)]
        out = LabelledImages(images, (labels == positive).long(), subjects)
    if len(out) == 0:
        raise DataError(name, "is empty")
    if len(torch.unique(out.targets)) < 2:
        raise DataError(name, "has a single class; it needs lesion and no-lesion images")
    return out


def split_real(
    real: LabelledImages, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[LabelledImages, LabelledImages, LabelledImages]:
    """Training pool, validation and test splits with no subject in two of them.

    Raises:
        DataError: a validation or test split with a single class (use more subjects).
    """
    parts: Any = subject_split(list(real.subjects), fractions, seed)  # index arrays
    out = tuple(real.take(p) for p in parts)
    for part, name in zip(out, ("training pool", "validation split", "test split"), strict=True):
        if len(part) == 0 or len(torch.unique(part.targets)) < 2:
            raise DataError(
                name,
                f"of {len(set(part.subjects))} subject(s) lacks a class: use more subjects "
                "or another seed",
            )
    return out  # type: ignore[return-value]


def sample_real(
    pool: LabelledImages, n: int | None, seed: int = 0, sampling: str = "spread"
) -> LabelledImages:
    """``n`` images of the pool, class-stratified and subject-aware (``None``: all of it).

    Class quotas follow the pool's proportions, with at least one image per class. Subjects
    are visited in a seeded random order, their slices shuffled:

    - ``"spread"`` (default): round-robin, one slice per subject per round, so the images
      come from as many subjects as possible (the ``N`` labelled images are the scarce
      resource, as in most data-augmentation studies);
    - ``"few-subjects"``: all of a subject's slices before the next subject, so the images
      come from as few subjects as possible (a small study with whole scans).

    Raises:
        DataError: ``n`` larger than the pool.
    """
    if sampling not in ("spread", "few-subjects"):
        raise ValueError(f"sampling must be 'spread' or 'few-subjects', got {sampling!r}")
    if n is None or n == len(pool):
        return pool
    if n > len(pool):
        raise DataError(
            "training pool",
            f"has {len(pool)} real images from {len(set(pool.subjects))} subjects, fewer than "
            f"N={n}: ask for fewer, or for all of them (--n-real all; None in Python)",
        )
    if n < 2:
        raise ValueError(f"need at least 2 real images (one per class), got {n}")
    rng = np.random.default_rng(seed)
    targets = pool.targets.numpy()
    n_pos = int(np.clip(round(n * targets.mean()), 1, min(targets.sum(), n - 1)))
    quota = {1: n_pos, 0: min(n - n_pos, int((targets == 0).sum()))}
    queues = [
        list(rng.permutation(np.flatnonzero(pool.subjects == s)))
        for s in rng.permutation(np.unique(pool.subjects))
    ]
    chosen: list[int] = []
    while any(quota.values()) and any(queues):
        for queue in queues:
            while queue:  # "spread" takes one useful slice per subject and round
                i = int(queue.pop())
                if quota[int(targets[i])] > 0:
                    quota[int(targets[i])] -= 1
                    chosen.append(i)
                    if sampling == "spread":
                        break
    return pool.take(np.sort(chosen))


def balanced_sample(data: LabelledImages, n: int, seed: int) -> LabelledImages:
    """``n`` images, half of each class where the set has them (seeded)."""
    rng = np.random.default_rng(seed)
    t = data.targets.numpy()
    pos, neg = rng.permutation(np.flatnonzero(t == 1)), rng.permutation(np.flatnonzero(t == 0))
    k = min(n // 2 + n % 2, len(pos))
    idx = np.concatenate([pos[:k], neg[: n - k]])
    return data.take(np.sort(idx))
