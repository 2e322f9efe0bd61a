"""Data leakage: the split decides the score.

A slice-level split puts neighbouring, nearly identical slices of one subject in training
and in test, so the test score partly measures memory of those subjects.
:func:`leakage_demo` isolates that effect: it trains **one** classifier on a subject-level
training split from which a random share of slices is withheld, then scores it on the
withheld slices (their subjects are in training: what a slice-level split tests on, the
*leaky* score) and on the subject-level test split (new subjects, the *honest* score). Same
model, same training images and subjects: the gap is the leak alone, with bootstrap
intervals over test subjects.

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
        fit: training; no augmentation by default, so that what leakage rewards, memorised
            subjects, shows.
        classifier: default width 8 at the data's image size.
        fractions: train, validation and test shares of the subjects. Few training subjects
            make memorising pay most.
        withheld: share of the training subjects' slices kept out of training and scored as
            the leaky test set.
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
    withheld: float = 0.25
    n_boot: int = 1000

    def __post_init__(self) -> None:
        if not 0 < self.withheld < 1:
            raise ValueError(f"withheld must lie in (0, 1), got {self.withheld!r}")


@dataclass(frozen=True)
class LeakageResult(Result):
    """One classifier's test AUROC on withheld slices of its training subjects (``leaky``)
    and on new subjects (``honest``), with 95% bootstrap intervals over the test subjects;
    ``inflation`` = leaky - honest (independent resamples). ``train_subjects``: the subjects
    it trained on (all of the leaky test's); ``n_images``: images per part."""

    leaky: Estimate
    honest: Estimate
    inflation: Estimate
    train_subjects: int
    n_images: dict[str, int]

    def to_text(self) -> str:
        n = self.n_images
        return (
            f"slices of its training subjects (leaky): test AUROC {self.leaky.to_text()}\n"
            f"new subjects (honest):                   test AUROC {self.honest.to_text()}\n"
            f"inflation by leakage:                    {self.inflation.to_text(signed=True)}\n"
            f"one model: {n['train']} training images of {self.train_subjects} subjects, "
            f"{n['val']} validation; tests: {n['leaky']} withheld slices of those subjects, "
            f"{n['honest']} slices of new subjects"
        )


def _has_both(targets: torch.Tensor, parts: Sequence[np.ndarray]) -> bool:
    return all(len(torch.unique(targets[p])) == 2 for p in parts)


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.mean() < 1 else math.nan


def leakage_demo(
    dataset: MedicalImageDataset, config: LeakageConfig | None = None, seed: int = 0
) -> LeakageResult:
    """Score one classifier on slices of its training subjects and on new subjects.

    The subjects are split once (:func:`~medgan_utils.data.dataset.subject_split`); a
    random ``config.withheld`` share of the training subjects' slices is kept out of
    training. The model trains on the rest, early-stops on the validation subjects, and is
    scored on the withheld slices (leaky: what a slice-level split would test on) and on the
    test subjects (honest).

    Args:
        dataset: labelled, with subjects; images ``(N, 1, S, S)`` in ``[-1, 1]``.
        seed: seeds the split, the withheld slices, the training and the bootstrap.

    Raises:
        DataError: unlabelled, or no subject split has both classes in every part.
    """
    from medgan_utils.downstream.labelled import as_labelled

    config = config or LeakageConfig()
    data = as_labelled(dataset, name=dataset.meta[0].source if dataset.meta else "dataset")
    y, subjects = data.targets, data.subjects
    rng = np.random.default_rng(seed)
    for s in range(seed, seed + 100):
        train, val, test = subject_split(list(subjects), config.fractions, s)
        order = rng.permutation(train)
        cut = max(1, round(config.withheld * len(train)))
        withheld, kept = np.sort(order[:cut]), np.sort(order[cut:])
        if _has_both(y, [kept, val, test, withheld]):
            break
    else:
        raise DataError("dataset", "no subject split has both classes in every part: add subjects")
    arch = config.classifier or ClassifierConfig(image_size=dataset.image_size, width=8)
    torch.manual_seed(seed)  # the initial weights: the same seed repeats the demo
    model = LesionClassifier(arch)
    fit_classifier(
        model, data.take(kept).pair(), data.take(val).pair(), replace(config.fit, seed=seed)
    )
    est, boots = {}, {}
    for name, part in (("leaky", withheld), ("honest", test)):
        scores, t = predict(model, data.images[part]), y[part].numpy()
        resamples = bootstrap_resamples(subjects[part], config.n_boot, seed)
        boots[name] = np.array([_auroc(t[i], scores[i]) for i in resamples])
        est[name] = Estimate(_auroc(t, scores), *percentile_interval(boots[name]))
    return LeakageResult(
        leaky=est["leaky"],
        honest=est["honest"],
        inflation=Estimate(
            est["leaky"].value - est["honest"].value,
            *percentile_interval(boots["leaky"] - boots["honest"]),
        ),
        train_subjects=len(set(subjects[kept])),
        n_images={"train": len(kept), "val": len(val), "leaky": len(withheld), "honest": len(test)},
    )
