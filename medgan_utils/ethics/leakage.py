"""Data leakage: the split decides the score.

:func:`leakage_demo` trains one classifier after a slice-level split (neighbouring slices of
a subject in training and test) and after a subject-level split, and reports how much the
leaky split inflates the test AUROC, with bootstrap intervals over test subjects.

Example:
    >>> print(leakage_demo(load_dataset("builtin-labelled", 64, n_subjects=24)))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from medgan_utils.data.dataset import MedicalImageDataset, subject_split
from medgan_utils.downstream.classifier import ClassifierConfig, LesionClassifier, predict
from medgan_utils.downstream.fit import FitConfig, fit_classifier
from medgan_utils.errors import DataError
from medgan_utils.ethics._result import Result
from medgan_utils.stats import Estimate, bootstrap_resamples, percentile_interval

__all__ = ["LeakageConfig", "LeakageResult", "leakage_demo"]


@dataclass(frozen=True)
class LeakageConfig:
    """Settings of :func:`leakage_demo`.

    Args:
        fit: training, the same for both splits; no augmentation by default, so that what
            leakage rewards, memorised subjects, shows.
        classifier: default width 8 at the data's image size.
        fractions: train, validation and test shares of the subjects (the slice-level split
            takes as many images). Few training subjects make memorising pay most.
        n_boot: bootstrap resamples of the test subjects.

    Example:
        >>> LeakageConfig(fit=FitConfig(epochs=2), n_boot=200).fractions
        (0.4, 0.2, 0.4)
    """

    fit: FitConfig = field(
        default_factory=lambda: FitConfig(epochs=10, steps_per_epoch=20, patience=10, augment=False)
    )
    classifier: ClassifierConfig | None = None
    fractions: tuple[float, float, float] = (0.4, 0.2, 0.4)
    n_boot: int = 1000


@dataclass(frozen=True)
class LeakageResult(Result):
    """Test AUROC after a slice-level (``leaky``) and a subject-level (``honest``) split, with
    95% bootstrap intervals over test subjects; ``inflation`` = leaky - honest (independent
    resamples); ``shared_subjects``: leaky test subjects with slices in its training set."""

    leaky: Estimate
    honest: Estimate
    inflation: Estimate
    train_subjects: dict[str, int]
    shared_subjects: int
    n_images: dict[str, tuple[int, int, int]]

    def to_text(self) -> str:
        return (
            f"slice-level split (leaky):    test AUROC {self.leaky.to_text()}, "
            f"{self.shared_subjects} test subjects also in training\n"
            f"subject-level split (honest): test AUROC {self.honest.to_text()}\n"
            f"inflation by leakage:         {self.inflation.to_text(signed=True)}\n"
            f"train/val/test images {self.n_images['honest']}; training subjects "
            f"{self.train_subjects['leaky']} (leaky), {self.train_subjects['honest']} (honest)"
        )


def _has_both(targets: torch.Tensor, parts: Sequence[np.ndarray]) -> bool:
    return all(len(torch.unique(targets[p])) == 2 for p in parts)


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.mean() < 1 else math.nan


def leakage_demo(
    dataset: MedicalImageDataset, config: LeakageConfig | None = None, seed: int = 0
) -> LeakageResult:
    """Train one classifier twice: after a slice-level and after a subject-level split.

    The slice-level split draws train/val/test *images* at random (as many as the subject
    split has), so neighbouring, nearly identical slices of one subject land in training and
    test; the subject-level split (:func:`~medgan_utils.data.dataset.subject_split`) keeps each
    subject in one part. Same architecture, :class:`FitConfig` and seed for both.

    Args:
        dataset: labelled, with subjects; images ``(N, 1, S, S)`` in ``[-1, 1]``.
        seed: seeds both splits, the training and the bootstrap.

    Raises:
        DataError: unlabelled, or no subject split has both classes in every part.
    """
    from medgan_utils.downstream.labelled import as_labelled

    config = config or LeakageConfig()
    data = as_labelled(dataset, name=dataset.meta[0].source if dataset.meta else "dataset")
    y, subjects = data.targets, data.subjects
    for s in range(seed, seed + 100):
        honest = subject_split(list(subjects), config.fractions, s)
        if _has_both(y, honest):
            break
    else:
        raise DataError("dataset", "no subject split has both classes in every part: add subjects")
    rng, cuts = np.random.default_rng(seed), np.cumsum([len(p) for p in honest])[:2]
    leaky = np.split(rng.permutation(len(y)), cuts)
    while not _has_both(y, leaky):  # rare: a random split of this size lacks a class
        leaky = np.split(rng.permutation(len(y)), cuts)
    arch = config.classifier or ClassifierConfig(image_size=dataset.image_size, width=8)
    splits, est, boots = {"leaky": leaky, "honest": honest}, {}, {}
    for name, (train, val, test) in splits.items():
        model = LesionClassifier(arch)
        fit_classifier(
            model, data.take(train).pair(), data.take(val).pair(), replace(config.fit, seed=seed)
        )
        scores, t = predict(model, data.images[test]), y[test].numpy()
        resamples = bootstrap_resamples(subjects[test], config.n_boot, seed)
        boots[name] = np.array([_auroc(t[i], scores[i]) for i in resamples])
        est[name] = Estimate(_auroc(t, scores), *percentile_interval(boots[name]))
    return LeakageResult(
        leaky=est["leaky"],
        honest=est["honest"],
        inflation=Estimate(
            est["leaky"].value - est["honest"].value,
            *percentile_interval(boots["leaky"] - boots["honest"]),
        ),
        train_subjects={k: len(set(subjects[p[0]])) for k, p in splits.items()},
        shared_subjects=len(np.intersect1d(subjects[leaky[0]], subjects[leaky[2]])),
        n_images={k: (len(p[0]), len(p[1]), len(p[2])) for k, p in splits.items()},
    )
